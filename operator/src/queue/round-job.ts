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

/** The fields of a BullMQ job that date it. */
export interface DatedJob {
  timestamp: number;
  /** The live delay: BullMQ sets it to 0 when it promotes a delayed job to waiting. */
  delay?: number;
  /** The delay the job was created with (kept). */
  opts?: { delay?: number };
}

/**
 * How late a job starts, in ms: now minus its due time (created + requested delay), never negative.
 * The requested delay is read from the job's options, since BullMQ zeroes `job.delay` when a delayed
 * job (every job-scheduler tick) becomes due; `job.timestamp + job.delay` would count the whole wait
 * for the slot, one interval, as lag.
 */
export function queueLagMs(job: DatedJob, now: number): number {
  const delay = Math.max(job.delay ?? 0, job.opts?.delay ?? 0);
  return Math.max(0, now - (job.timestamp + delay));
}
