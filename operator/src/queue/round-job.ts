import { createHash } from 'node:crypto';

/** Default BullMQ queue name and key prefix of the round queue. */
export const ROUND_QUEUE = 'nodeward-rounds';
export const ROUND_QUEUE_PREFIX = 'nodeward';
/** Name of every round job (the scheduler id is the node name). */
export const ROUND_JOB = 'round';

/** The data of a round job. The worker resolves everything else from the informer caches. */
export interface RoundJobData {
  nodeName: string;
  policyName: string;
}

/**
 * A node's deterministic phase within its interval, in [0, intervalMs): the first 48 bits of
 * SHA-256(nodeName) mod intervalMs. Spreads thousands of nodes evenly over the interval and keeps
 * each node's phase across restarts and replicas.
 */
export function jitterMs(nodeName: string, intervalMs: number): number {
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be a positive integer, got ${intervalMs}`);
  return createHash('sha256').update(nodeName).digest().readUIntBE(0, 6) % intervalMs;
}
