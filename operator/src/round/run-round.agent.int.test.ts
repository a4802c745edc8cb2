import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { CompiledRuntimePolicy } from '@nodeward/attest';

/** runRound only checks whether the policy has IMA rules. */
const IMA = {} as CompiledRuntimePolicy;
import { verifyQuote, type RoundPolicy, type RoundState } from '@nodeward/attest';
import { startAgent, type RunningAgent } from '@nodeward/agent';
import { silentLogger } from '@nodeward/agent';
import { createMtlsPki, createSwtpmCa, prepareSimNode, type MtlsPki, type SimNode } from '@nodeward/e2e/sim';
import { HttpsAgentClient } from '../agent-client/https-agent-client.js';
import type { NodeStateStore, RoundContext } from '../ports.js';
import { bootPcrsDigest } from '@nodeward/attest';
import { createRoundMetrics } from './round-metrics.js';
import { runRound, type RoundDeps } from './run-round.js';
import type { VerifyRoundFn } from './verify-round.js';

/**
 * runRound and HttpsAgentClient against a real agent (mTLS) on a simulated node with its own swtpm.
 * Verification is attest's verifyQuote (verifyRound is not in attest yet) plus the IMA count.
 */
describe('runRound against a real agent', () => {
  let dir: string;
  let pki: MtlsPki;
  let node: SimNode;
  let agent: RunningAgent;
  let client: HttpsAgentClient;
  const states = new Map<string, RoundState>();
  const store: NodeStateStore = {
    get: (n) => Promise.resolve(states.get(n)),
    put: (n, s) => { states.set(n, s); return Promise.resolve(); },
    delete: (n) => { states.delete(n); return Promise.resolve(); },
  };
  const verify: VerifyRoundFn = (e, p) => {
    const q = verifyQuote({ akPublic: p.akPublic, quoted: e.quote.quoted, signature: e.quote.signature, nonce: e.nonce, pcrs: e.quote.pcrs });
    return {
      trusted: q.ok, failures: q.ok ? [] : q.reasons, rebooted: false,
      nextState: {
        ima: { count: e.ima?.total ?? 0, pcr10: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } },
        resetCount: q.ok ? q.attest.clockInfo.resetCount : 0, bootPcrsDigest: bootPcrsDigest(e.quote.pcrs)!,
      },
    };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-op-round-'));
    pki = await createMtlsPki(join(dir, 'pki'));
    node = await prepareSimNode({ name: 'op-node', ip: '127.0.3.2', baseDir: dir, ca: await createSwtpmCa(join(dir, 'swtpm-ca')) });
    agent = await startAgent({
      listen: { host: node.ip, port: 0 }, tcti: node.tcti, hostRoot: node.hostRoot, logger: silentLogger,
      tls: { ...(await pki.agentServerCert(node.ip, node.name)), clientCaPem: pki.operatorCa.certPem },
    });
    client = new HttpsAgentClient({ cert: pki.operatorClient.certPem, key: pki.operatorClient.keyPem, ca: pki.agentCa.certPem });
  });
  afterAll(async () => {
    client?.close();
    await agent?.close();
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const deps = (policy: Partial<RoundPolicy> = {}): { deps: RoundDeps; ctx: RoundContext } => {
    const ctx: RoundContext = {
      target: { nodeName: node.name, policyName: 'p', agentUrl: agent.url, intervalMs: 1000 },
      policy: { akPublic: Buffer.from(agent.identity.akPublic, 'base64'), pcrSelection: { sha256: [0, 7] }, ima: IMA, ...policy },
      akName: agent.identity.akName, ekFingerprint: '', policyDigest: 'dd'.repeat(32),
    };
    return { ctx, deps: { context: () => ctx, agent: client, store, verify, metrics: createRoundMetrics(new Registry()) } };
  };

  it('reads the identity over mutual TLS', async () => {
    expect(await client.identity(agent.url)).toEqual(agent.identity);
  });

  it('runs rounds whose quotes verify, with the boot log once and IMA entries incrementally', async () => {
    const { deps: d } = deps({ verity: { devices: [{ name: 'root', allowedRootHashes: [node.verity.rootHash] }] } });
    const seen: Parameters<VerifyRoundFn>[0][] = [];
    d.verify = (e, p, prev) => { seen.push(e); return verify(e, p, prev); };
    const first = await runRound(node.name, d);
    expect(first).toMatchObject({ kind: 'verdict', verdict: { trusted: true, failures: [] } });
    expect(Buffer.from(seen[0]!.eventLog!).equals(await node.bootLog())).toBe(true);
    expect(seen[0]!.ima).toMatchObject({ from: 0, total: node.imaEntryCount() });
    expect(seen[0]!.verity).toEqual([expect.objectContaining({ name: 'root', rootHash: node.verity.rootHash, status: 'verified' })]);

    const before = node.imaEntryCount();
    await node.appendImaFile('/usr/bin/true', 'true');
    const second = await runRound(node.name, d);
    expect(second).toMatchObject({ kind: 'verdict', verdict: { trusted: true } });
    expect(seen[1]!.eventLog).toBeUndefined();
    expect(seen[1]!.ima).toMatchObject({ from: before, total: before + 1 });
    expect(states.get(node.name)!.ima.count).toBe(before + 1);
  });

  it('is trusted by attest verifyRound (the default verifier) for a policy on the quoted boot PCRs', async () => {
    const { deps: d } = deps({ ima: undefined, expectedPcrs: { sha256: { '7': node.bootPcrs().sha256!['7']! } } });
    delete d.verify;
    states.delete(node.name);
    const outcome = await runRound(node.name, d);
    expect(outcome).toMatchObject({ kind: 'verdict', verdict: { trusted: true, failures: [] } });
    expect(states.get(node.name)?.bootPcrsDigest).toBeDefined();
  });

  it('after a reboot fetches the boot log and the whole IMA log again', async () => {
    const { deps: d } = deps();
    await runRound(node.name, d);
    const seen: Parameters<VerifyRoundFn>[0][] = [];
    d.verify = (e, p, prev) => { seen.push(e); return verify(e, p, prev); };
    await node.reboot();
    expect(await runRound(node.name, d)).toMatchObject({ kind: 'verdict', verdict: { trusted: true } });
    expect(seen[0]!.eventLog).toBeDefined();
    expect(seen[0]!.ima).toMatchObject({ from: 0, total: node.imaEntryCount() });
  });

  it('reports identity-changed for a quote not signed by the registered AK', async () => {
    const other = await prepareSimNode({ name: 'op-other', ip: '127.0.3.3', baseDir: dir, ca: await createSwtpmCa(join(dir, 'swtpm-ca2')) });
    const otherAgent = await startAgent({
      listen: { host: other.ip, port: 0 }, tcti: other.tcti, hostRoot: other.hostRoot, logger: silentLogger,
      tls: { ...(await pki.agentServerCert(other.ip, other.name)), clientCaPem: pki.operatorCa.certPem },
    });
    try {
      // The registered AK is this node's; the agent answering at the address is another TPM.
      const { deps: d, ctx } = deps();
      ctx.target.agentUrl = otherAgent.url;
      const outcome = await runRound(node.name, d);
      expect(outcome?.kind).toBe('identity-changed');
      expect(outcome?.kind === 'identity-changed' && outcome.failures.map((f) => f.id)).toContain('identity.ak_changed');
    } finally {
      await otherAgent.close();
      await other.stop();
    }
  });

  it('refuses the agent when the operator trusts another CA, as unreachable', async () => {
    const wrong = new HttpsAgentClient({ cert: pki.operatorClient.certPem, key: pki.operatorClient.keyPem, ca: pki.operatorCa.certPem });
    try {
      await expect(wrong.identity(agent.url)).rejects.toMatchObject({ code: 'unreachable' });
      const { deps: d } = deps();
      d.agent = wrong;
      expect(await runRound(node.name, d)).toMatchObject({ kind: 'unreachable' });
    } finally {
      wrong.close();
    }
  });
});
