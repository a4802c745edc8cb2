import { createHash } from 'node:crypto';

/** Default BullMQ queue name and key prefix of the round queue. */
export const ROUND_QUEUE = 'nodeward-rounds';
export const ROUND_QUEUE_PREFIX = 'nodeward';
/** Name of every round job: a node's one-off first round, or a shard's repeating tick. */
export const ROUND_JOB = 'round';

/**
 * The data of a round job: one node's round (its first, run at once), or a shard tick (the rounds of
 * every member of the shard, read from Redis when the tick runs). The worker resolves everything
 * else from the informer caches.
 */
export type RoundJobData = { nodeName: string; policyName: string } | { shard: string };

/** Phase slots per interval: one every SLOT_MS, at most MAX_SLOTS, at least 1. */
export const SLOT_MS = 100;
export const MAX_SLOTS = 600;

/** A node's shard: its interval and phase slot. `id` names the shard's job scheduler and member set. */
export interface Shard {
  id: string;
  every: number;
  /** The slot's phase within the interval, ms. */
  offset: number;
}

/**
 * The shard of a node at an interval: slot = the node's deterministic hash (as `jitterMs`) mod the
 * interval's slot count, phase = slot × interval / slots. Same on every replica and across restarts.
 */
export function shardOf(nodeName: string, every: number): Shard {
  const slots = Math.min(MAX_SLOTS, Math.max(1, Math.floor(every / SLOT_MS)));
  const slot = jitterMs(nodeName, slots);
  return { id: `${every}:${slot}`, every, offset: Math.floor((slot * every) / slots) };
}

/**
 * A shard id as a label value (`<every>-<slot>`: a label value takes no colon). The leader labels each
 * NodeAttestation with its node's shard (SHARD_LABEL), so a follower can watch only its own shards'.
 */
export function shardLabelValue(shardId: string): string {
  return shardId.replace(':', '-');
}

/** The shard of an id made by `shardOf` (`<every>:<slot>`); undefined for anything else. */
export function shardFromId(id: string): Shard | undefined {
  const m = /^([1-9][0-9]{0,12}):(0|[1-9][0-9]{0,3})$/.exec(id);
  if (m === null) return undefined;
  const every = Number(m[1]);
  const slot = Number(m[2]);
  const slots = Math.min(MAX_SLOTS, Math.max(1, Math.floor(every / SLOT_MS)));
  return slot < slots ? { id, every, offset: Math.floor((slot * every) / slots) } : undefined;
}

export interface ShardKeys {
  /** Set of a shard's node names. */
  members: (shardId: string) => string;
  /** Hash node name → shard id. */
  nodes: string;
  /** Set of the non-empty shards' ids. */
  shards: string;
  /** Sorted set of the replicas: member identity, scored by when its heartbeat expires (Redis time, ms). */
  replicas: string;
  /** Claimed once per shard tick (SET NX), so a tick two replicas both believe theirs runs once. */
  tick: (shardId: string, tick: number) => string;
}

/** Redis keys of the shard membership and the replicas, beside BullMQ's own keys of the queue. */
export function shardKeys(prefix: string, queueName: string): ShardKeys {
  const base = `${prefix}:${queueName}:nw-shard`;
  return {
    members: (id) => `${base}:members:${id}`, nodes: `${base}:of-node`, shards: `${base}:ids`,
    replicas: `${prefix}:${queueName}:nw-replicas`, tick: (id, n) => `${base}:tick:${id}:${n}`,
  };
}

/**
 * The BullMQ queue of one replica's shard ticks and first rounds: `<queue>-replica-<identity>` (identity
 * characters outside [A-Za-z0-9._-] become '_').
 */
export function replicaQueueName(queueName: string, identity: string): string {
  return `${queueName}-replica-${identity.replace(/[^A-Za-z0-9._-]/g, '_')}`;
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
