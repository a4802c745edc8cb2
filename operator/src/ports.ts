import type { Failure, RoundVerdict } from '@nodeward/attest';

/**
 * The seams inside the operator. The control plane (reconcile, registration, decide, enforce,
 * status) and the data plane (schedule, rounds, state, agent client) meet only through these types.
 *
 *   informers → work queue → reconcile (pure plan) → kube adapter
 *                               │ ensure/remove schedule
 *                               ▼
 *   BullMQ repeat job → worker → AgentClient + NodeStateStore → attest.verifyRound → RoundOutcome
 *                                                                          │
 *   control plane: onRoundOutcome → decideActions (pure) → enforce (kube, CA, agent) → status
 */

/** What the data plane needs to run a node's round, resolved by the control plane from the CRs. */
export interface AttestationTarget {
  nodeName: string;
  policyName: string;
  /** https://<node>@<InternalIP>:<agentPort>: the node the agent there must prove it serves, at the address it is reached. */
  agentUrl: string;
  intervalMs: number;
}

/** Owned by the leader: one repeating job per attested node, with jitter. Idempotent. */
export interface RoundScheduler {
  ensure(target: AttestationTarget): Promise<void>;
  remove(nodeName: string): Promise<void>;
  /** Node names that currently have a schedule (to remove stale ones after a restart). */
  list(): Promise<string[]>;
}

export type RoundOutcome =
  | { kind: 'verdict'; nodeName: string; policyName: string; at: Date; verdict: RoundVerdict; akName?: string }
  | { kind: 'unreachable'; nodeName: string; policyName: string; at: Date; error: string }
  /** The agent answered with an identity other than the registered one (EK or AK changed). */
  | { kind: 'identity-changed'; nodeName: string; policyName: string; at: Date; failures: Failure[]; akName?: string };
// akName: the registered AK the round was verified against. An outcome for an AK the node is no longer
// registered with (a round in flight across an approved identity change) is stale and dropped.

/** Called by a worker after each round; the control plane decides and enforces. */
export type RoundOutcomeHandler = (outcome: RoundOutcome) => Promise<void>;

/**
 * Everything a worker needs for one node's round, resolved from the informer caches that every
 * replica keeps (policy, its ConfigMaps, the NodeAttestation's registered identity). Undefined
 * when the node is no longer attested or not yet registered: the worker then skips the round.
 */
export interface RoundContext {
  target: AttestationTarget;
  policy: import('@nodeward/attest').RoundPolicy;
  /** AK Name registered for the node (hex): a quote signed by anything else is an impersonation. */
  akName: string;
  /** SHA-256 of the registered EK certificate (hex). */
  ekFingerprint: string;
  /**
   * Digest of what the round verifies against (PCR selection and expectations, boot and verity rules,
   * the runtime policy's content): saved state verified under another digest is re-verified from the
   * IMA list's first entry and a fresh boot event log.
   */
  policyDigest: string;
}

/** What the operator keeps per node: attest's RoundState plus what only the operator judges. */
export type StoredRoundState = import('@nodeward/attest').RoundState & {
  /** RoundContext.policyDigest the IMA and boot state were verified under. */
  policyDigest?: string;
  /** The TPM resetCount (boot) in which dm-verity reported corruption: the node fails until it reboots. */
  verityCorruptedBoot?: number;
};
export type RoundContextProvider = (nodeName: string) => RoundContext | undefined;

/** Per-node incremental state in Redis, so any worker can take the next round. */
export interface NodeStateStore {
  get(nodeName: string): Promise<StoredRoundState | undefined>;
  put(nodeName: string, state: StoredRoundState): Promise<void>;
  delete(nodeName: string): Promise<void>;
}
