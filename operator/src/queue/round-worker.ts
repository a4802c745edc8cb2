import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RoundOutcome, RoundOutcomeHandler } from '../ports.js';
import type { RoundMetrics } from '../round/round-metrics.js';
import { defaultRoundMetrics } from '../round/round-metrics.js';
import type { QueueLog } from './bull-round-scheduler.js';
import { queueLagMs, ROUND_QUEUE, ROUND_QUEUE_PREFIX, shardFromId, shardKeys, type RoundJobData, type ShardKeys } from './round-job.js';

export interface RoundWorkerOptions {
  connection: ConnectionOptions;
  /** The base queue name (of the shard keys). Default `nodeward-rounds`. */
  queueName?: string;
  /** The queue this worker consumes: the replica's own (`ShardOwnership.queueName`). Default `queueName`. */
  jobQueueName?: string;
  /** Whether this replica owns a shard now: a tick of a shard it no longer owns is dropped. Default: all. */
  owns?: (shardId: string) => boolean;
  /** BullMQ key prefix. Default `nodeward`. */
  prefix?: string;
  /** Rounds run at once by this replica, across all its jobs. Default 4. */
  concurrency?: number;
  /** One round for a node, e.g. `(n) => runRound(n, deps)`; undefined when skipped. */
  runRound: (nodeName: string) => Promise<RoundOutcome | undefined>;
  onOutcome: RoundOutcomeHandler;
  metrics?: RoundMetrics;
  log?: QueueLog & { error(msg: string, fields?: Record<string, string | number | boolean | undefined>): void };
  /** Default Date.now. */
  now?: () => number;
}

/**
 * Processes round jobs of this replica's queue: a node's first round, or a shard tick, whose members
 * (one SMEMBERS) have their rounds run concurrently. Rounds are bounded by `concurrency` across all the
 * replica's jobs; each outcome goes to the control plane. A shard tick runs only if this replica owns
 * the shard and wins the tick's claim in Redis (SET NX per shard and tick): while replicas briefly
 * disagree on who is live, two of them may hold a shard's scheduler, and its tick still runs once.
 * A round is never retried (a failed or stalled job is dropped; the next tick is the retry), and its
 * failures are logged, not thrown, so one failing round does not stop its shard's others.
 */
export class RoundWorker {
  readonly worker: Worker<RoundJobData, void>;
  private readonly opts: RoundWorkerOptions;
  private readonly metrics: RoundMetrics;
  private readonly keys: ShardKeys;
  private readonly limit: Limiter;
  /** Nodes with a round running or waiting for a slot in this replica. */
  private readonly pending = new Set<string>();

  constructor(opts: RoundWorkerOptions) {
    this.opts = opts;
    this.metrics = opts.metrics ?? defaultRoundMetrics();
    const queueName = opts.queueName ?? ROUND_QUEUE;
    const prefix = opts.prefix ?? ROUND_QUEUE_PREFIX;
    const concurrency = opts.concurrency ?? 4;
    this.keys = shardKeys(prefix, queueName);
    this.limit = limiter(concurrency);
    this.worker = new Worker<RoundJobData, void>(opts.jobQueueName ?? queueName, (job) => this.process(job), {
      connection: opts.connection, prefix, concurrency, maxStalledCount: 0,
    });
    this.worker.on('error', (e: Error) => opts.log?.warn('round worker: redis error', { error: e.message }));
  }

  async close(): Promise<void> {
    await this.worker.close();
  }

  private async process(job: Job<RoundJobData, void>): Promise<void> {
    const data = job.data as Partial<{ nodeName: unknown; shard: unknown }> | undefined;
    if (typeof data?.shard === 'string') {
      const redis = (await this.worker.getBackend().client) as unknown as Redis;
      if (!(await this.claimTick(redis, job, data.shard))) return;
      const members = await redis.smembers(this.keys.members(data.shard));
      await Promise.all(members.map((n) => this.once(job, n)));
      return;
    }
    const nodeName = typeof data?.nodeName === 'string' ? data.nodeName : job.repeatJobKey;
    if (nodeName === undefined) {
      this.opts.log?.warn('round job without a node name dropped', { job: job.id });
      return;
    }
    await this.once(job, nodeName);
  }

  /**
   * Whether this replica runs this tick of the shard: it owns the shard and is the first to claim the
   * tick. The tick number is the job's due time on the shard's grid, rounded down with a tenth of an
   * interval of slack. An off-grid job (the catch-up tick `ShardOwnership` adds when it schedules a shard,
   * or BullMQ's immediate first job of a phase-0 scheduler) counts as the slot before it: skipped if that
   * slot ran, run if the old owner died before running it.
   */
  private async claimTick(redis: Redis, job: Job<RoundJobData, void>, shardId: string): Promise<boolean> {
    const shard = shardFromId(shardId);
    if (shard === undefined || !(this.opts.owns?.(shardId) ?? true)) return false;
    const due = job.timestamp + Math.max(job.delay, job.opts.delay ?? 0);
    const tick = Math.floor((due - shard.offset + shard.every / 10) / shard.every);
    return (await redis.set(this.keys.tick(shardId, tick), '1', 'PX', 2 * shard.every, 'NX')) === 'OK';
  }

  /**
   * A node's round, unless one is already running or waiting in this replica: when ticks run late,
   * the next tick of a shard can start before the last one's rounds are done, and two rounds of a
   * node at once would both write the status the first should have (and under overload the backlog
   * would grow by whole shards). The round already there answers for the tick.
   */
  private async once(job: Job<RoundJobData, void>, nodeName: string): Promise<void> {
    if (this.pending.has(nodeName)) {
      this.metrics.roundsCoalesced.inc();
      return;
    }
    this.pending.add(nodeName);
    try {
      await this.limit(() => this.round(job, nodeName));
    } finally {
      this.pending.delete(nodeName);
    }
  }

  private async round(job: Job<RoundJobData, void>, nodeName: string): Promise<void> {
    this.metrics.queueLagSeconds.observe(queueLagMs(job, (this.opts.now ?? Date.now)()) / 1000);
    try {
      const outcome = await this.opts.runRound(nodeName);
      if (outcome !== undefined) await this.opts.onOutcome(outcome);
    } catch (e) {
      this.opts.log?.error('round failed', { node: nodeName, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

type Limiter = (fn: () => Promise<void>) => Promise<void>;

/** Runs at most `n` of the functions given to it at once, the others in order as slots free up. */
function limiter(n: number): Limiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      await fn();
    } finally {
      const next = waiting.shift();
      if (next === undefined) running--;
      else next();
    }
  };
}
