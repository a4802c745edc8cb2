import type { Logger } from '../log.js';
import type { IdentityClaims } from '../registration/identity-claims.js';
import { attestTpmChecks, type TpmChecks } from '../registration/register-identity.js';
import { decideCsr, type CsrDecision, type CsrHandlers } from './csr-router.js';
import type { CsrView } from './csr.js';
import { answerJoinRequest, failureMessage, JOIN_DENIED_REASON } from './join-challenge.js';
import { joinFailure } from './join-failure.js';
import type { JoinLookups, JoinRequestView } from './join-request.js';
import type { KubeletIdentityApi } from './kubelet-identity-api.js';
import { verifyJoinCsr } from './verify-join.js';

/** The condition reason of an approved attested join. */
export const JOIN_APPROVED_REASON = 'NodewardAttestedJoin';

export interface KubeletIdentityDeps {
  readonly api: KubeletIdentityApi;
  readonly lookups: JoinLookups;
  readonly claims: Pick<IdentityClaims, 'claim'>;
  /** Only the leader decides; the others keep their caches warm. */
  readonly isLeader: () => boolean;
  readonly log: Logger;
  readonly tpm?: TpmChecks;
  /** Pending kubelet CSRs one bootstrap token may have; more are denied unread (default 8). */
  readonly maxPendingPerRequester?: number;
  /** Extra handlers for renewals and serving CSRs (the kubelet identity features); default: leave them. */
  readonly renewals?: Pick<CsrHandlers, 'nodeClientRenewal' | 'kubeletServing'>;
  /** Told of every decision the approval subresource took (Events, metrics: announceKubeletCsrDecision). */
  readonly onDecided?: (csr: CsrView, decision: CsrDecision) => Promise<void>;
}

const RETRY_MS = 2000;
const MAX_ATTEMPTS = 5;

/**
 * Decides kubelet CSRs and answers NodeJoinRequests as they are added or updated. Work is serialised
 * per object (one decision in flight per CSR or request); a failed decision is retried a few times.
 */
export class KubeletIdentityController {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly handlers: CsrHandlers;
  private readonly tpm: TpmChecks;

  constructor(private readonly deps: KubeletIdentityDeps) {
    this.tpm = deps.tpm ?? attestTpmChecks;
    const leave = (): Promise<CsrDecision> => Promise.resolve({ verdict: 'Ignore' });
    this.handlers = {
      bootstrapJoin: (csr) => this.decideJoin(csr),
      nodeClientRenewal: deps.renewals?.nodeClientRenewal.bind(deps.renewals) ?? leave,
      kubeletServing: deps.renewals?.kubeletServing.bind(deps.renewals) ?? leave,
    };
  }

  start(): Promise<void> {
    return this.deps.api.start({
      csr: (csr) => this.enqueue(`csr/${csr.name}`, () => this.handleCsr(csr)),
      joinRequest: (req) => this.enqueue(`njr/${req.name}`, () => this.handleJoinRequest(req)),
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.deps.api.stop();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Looks at every unanswered NodeJoinRequest and pending CSR again (on becoming leader). */
  resync(): void {
    for (const req of this.deps.api.unansweredJoinRequests()) this.enqueue(`njr/${req.name}`, () => this.handleJoinRequest(req));
    for (const csr of this.deps.api.pendingCsrs()) this.enqueue(`csr/${csr.name}`, () => this.handleCsr(csr));
  }

  /** Handles a CSR now (tests and resync); resolves once its decision is written. */
  async handleCsr(csr: CsrView): Promise<void> {
    if (!this.deps.isLeader() || csr.state !== 'Pending') return;
    const decision = await decideCsr(csr, this.handlers);
    switch (decision.verdict) {
      case 'Approve':
      case 'Deny': {
        const written = await this.deps.api.decideCsr(csr, decision);
        if (written) await this.deps.onDecided?.(csr, decision);
        const log = decision.verdict === 'Approve' ? this.deps.log.info.bind(this.deps.log) : this.deps.log.warn.bind(this.deps.log);
        log(decision.verdict === 'Approve' ? 'kubelet CSR approved' : 'kubelet CSR denied', {
          csr: csr.name, requester: csr.username, reason: decision.reason, message: decision.message, written,
        });
        return;
      }
      case 'Wait':
        this.deps.log.debug('kubelet CSR waits', { csr: csr.name, message: decision.message });
        return;
      case 'Ignore':
        return;
    }
  }

  /** Answers a NodeJoinRequest not yet answered. */
  async handleJoinRequest(req: JoinRequestView): Promise<void> {
    if (!this.deps.isLeader() || req.status?.phase !== undefined) return;
    const status = await answerJoinRequest(req, this.deps.lookups, this.tpm);
    if (status === undefined) return;
    const written = await this.deps.api.replaceJoinRequestStatus(req, status);
    this.deps.log.info('join request answered', { joinRequest: req.name, nodeName: req.spec.nodeName, phase: status.phase, reason: status.reason, written });
  }

  private async decideJoin(csr: CsrView): Promise<CsrDecision> {
    const limit = this.deps.maxPendingPerRequester ?? 8;
    const pending = this.deps.api.pendingCsrs().filter((c) => c.username === csr.username && c.name !== csr.name).length;
    if (pending >= limit) {
      return deny([joinFailure('TooManyPending', `${csr.username} has ${pending} other pending kubelet CSRs (limit ${limit})`)]);
    }
    const verdict = await verifyJoinCsr(csr, { ...this.deps.lookups, joinRequest: (name) => this.deps.api.getJoinRequest(name) }, this.tpm);
    if (!verdict.ok) return deny(verdict.failures);
    const { nodeName, joinRequest } = verdict;
    const akName = this.tpm.akNameOf(Buffer.from(joinRequest.spec.akPublic, 'base64'))!.toString('hex');
    const claimed = await this.deps.claims.claim(nodeName, { ekCertificateFingerprint: joinRequest.status?.ekCertificateFingerprint ?? '', akName });
    if (!claimed.ok) return deny([joinFailure('TpmBoundToOtherNode', `this TPM is bound to node ${claimed.holder}`)]);
    if (joinRequest.status?.phase !== 'Used') {
      // Consume the challenge before approving: a second CSR with the same proof finds it used.
      const used = await this.deps.api.replaceJoinRequestStatus(joinRequest, { ...joinRequest.status, phase: 'Used', usedBy: csr.name });
      if (!used) throw new Error(`NodeJoinRequest ${joinRequest.name} changed while consuming its challenge; retrying`);
    }
    return { verdict: 'Approve', reason: JOIN_APPROVED_REASON, message: `Nodeward: TPM attested for node ${nodeName} (EK, credential activation, quote bound to this key)` };
  }

  private enqueue(key: string, run: () => Promise<void>, attempt = 1): void {
    if (this.inFlight.has(key)) return;
    const p = run().catch((e: unknown) => {
      this.deps.log.warn('kubelet identity decision failed', { key, attempt, error: e });
      if (attempt >= MAX_ATTEMPTS) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.enqueue(key, run, attempt + 1);
      }, RETRY_MS * attempt);
      this.timers.add(t);
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
  }
}

function deny(failures: Parameters<typeof failureMessage>[0]): CsrDecision {
  return { verdict: 'Deny', reason: JOIN_DENIED_REASON, message: failureMessage(failures) };
}
