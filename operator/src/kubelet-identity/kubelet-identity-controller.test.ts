import 'reflect-metadata';
import type { Logger } from '../log.js';
import type { CsrView } from './csr.js';
import type { JoinLookups, JoinRequestView, NodeJoinRequestStatus } from './join-request.js';
import type { CsrVerdict, KubeletIdentityApi } from './kubelet-identity-api.js';
import { KubeletIdentityController } from './kubelet-identity-controller.js';
import { buildCsrRequest, csrView } from './testing/csr-builder.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet };

class FakeApi implements KubeletIdentityApi {
  decided: { csr: string; verdict: CsrVerdict }[] = [];
  statuses: { name: string; status: NodeJoinRequestStatus }[] = [];
  pending: CsrView[] = [];
  start(): Promise<void> { return Promise.resolve(); }
  stop(): Promise<void> { return Promise.resolve(); }
  pendingCsrs(): CsrView[] { return this.pending; }
  unansweredJoinRequests(): JoinRequestView[] { return []; }
  getJoinRequest(): Promise<JoinRequestView | undefined> { return Promise.resolve(undefined); }
  replaceJoinRequestStatus(req: JoinRequestView, status: NodeJoinRequestStatus): Promise<boolean> {
    this.statuses.push({ name: req.name, status });
    return Promise.resolve(true);
  }
  decideCsr(csr: CsrView, verdict: CsrVerdict): Promise<boolean> {
    this.decided.push({ csr: csr.name, verdict });
    return Promise.resolve(true);
  }
}

const lookups: JoinLookups = {
  policies: () => [], trustAnchors: () => undefined, nameBinding: () => Promise.resolve({ kind: 'Free' }), claimHolder: () => Promise.resolve(undefined),
};

function controller(api: FakeApi, leader = true): KubeletIdentityController {
  return new KubeletIdentityController({ api, lookups, claims: { claim: () => Promise.resolve({ ok: true }) }, isLeader: () => leader, log: quiet, maxPendingPerRequester: 2 });
}

describe('KubeletIdentityController', () => {
  it('denies a bootstrap token CSR without a proof, naming Nodeward and the failure', async () => {
    const api = new FakeApi();
    await controller(api).handleCsr(csrView({ requestPem: (await buildCsrRequest()).pem }));
    expect(api.decided).toHaveLength(1);
    expect(api.decided[0]!.verdict).toMatchObject({ verdict: 'Deny', reason: 'NodewardJoinDenied' });
    expect(api.decided[0]!.verdict.message).toMatch(/^Nodeward refused the join: join\.proof_missing/);
  });

  it('denies past the per-token pending limit without reading the request', async () => {
    const api = new FakeApi();
    api.pending = [csrView({ name: 'a' }), csrView({ name: 'b' })];
    await controller(api).handleCsr(csrView({ name: 'c', requestPem: 'never parsed' }));
    expect(api.decided[0]!.verdict.message).toContain('join.too_many_pending');
  });

  it('leaves renewals and serving CSRs to their handlers (none by default) and decides nothing when not leading', async () => {
    const api = new FakeApi();
    await controller(api).handleCsr(csrView({ username: 'system:node:a', groups: ['system:nodes'] }));
    await controller(api, false).handleCsr(csrView({ requestPem: (await buildCsrRequest()).pem }));
    expect(api.decided).toEqual([]);
  });

  it('answers a new NodeJoinRequest once, and leaves an answered one alone', async () => {
    const api = new FakeApi();
    const req: JoinRequestView = { name: 'j', uid: 'u', spec: { nodeName: 'worker-1', ekCertificates: [], ekPublic: '', akPublic: '' } };
    await controller(api).handleJoinRequest(req);
    await controller(api).handleJoinRequest({ ...req, status: { phase: 'Denied' } });
    expect(api.statuses).toHaveLength(1);
    expect(api.statuses[0]!.status).toMatchObject({ phase: 'Denied', reason: 'NodewardJoinDenied' });
    expect(api.statuses[0]!.status.message).toContain('join.no_policy_for_name');
  });
});
