import { Counter, Histogram, register, type Registry } from 'prom-client';

/** Result label of `nodeward_rounds_total`. */
export type RoundResult = 'trusted' | 'untrusted' | 'unreachable' | 'identity_changed' | 'skipped' | 'error';
/** Result label of `nodeward_revocation_notices_total`. */
export type NoticeResult = 'delivered' | 'failed' | 'dropped';

/** The data plane's metrics (rounds, verification and queue latency, webhook notices). */
export interface RoundMetrics {
  rounds: Counter<'result'>;
  /** The `verifyRound` part of a round. */
  verifySeconds: Histogram;
  /** A whole round: context, state, agent calls, verification, state save. */
  roundSeconds: Histogram;
  /** How late a round job started compared with when it was due. */
  queueLagSeconds: Histogram;
  /** Rounds not started because the node's previous round in this replica had not finished. */
  roundsCoalesced: Counter;
  notices: Counter<'result'>;
}

/**
 * Creates and registers the metrics on `registry` (prom-client's default register unless given;
 * the control plane's `metrics.ts` registry when it exists). Call once per registry.
 */
export function createRoundMetrics(registry: Registry = register): RoundMetrics {
  const registers = [registry];
  return {
    rounds: new Counter({ name: 'nodeward_rounds_total', help: 'Attestation rounds by result', labelNames: ['result'], registers }),
    verifySeconds: new Histogram({
      name: 'nodeward_round_verify_seconds', help: 'Time spent in verifyRound', registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    roundSeconds: new Histogram({
      name: 'nodeward_round_duration_seconds', help: 'End-to-end duration of an attestation round', registers,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    roundsCoalesced: new Counter({ name: 'nodeward_rounds_coalesced_total', help: "Rounds not started because the node's previous round in this replica had not finished", registers }),
    queueLagSeconds: new Histogram({
      name: 'nodeward_round_queue_lag_seconds', help: 'Delay between a round being due and a worker starting it', registers,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    }),
    notices: new Counter({ name: 'nodeward_revocation_notices_total', help: 'Revocation webhook notices by result', labelNames: ['result'], registers }),
  };
}

let defaults: RoundMetrics | undefined;

/** The metrics on prom-client's default register, created on first use. */
export function defaultRoundMetrics(): RoundMetrics {
  defaults ??= createRoundMetrics();
  return defaults;
}
