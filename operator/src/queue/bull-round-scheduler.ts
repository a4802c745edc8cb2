import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AttestationTarget, RoundScheduler } from '../ports.js';
import { ROUND_JOB, ROUND_QUEUE, ROUND_QUEUE_PREFIX, shardKeys, shardOf, type RoundJobData, type Shard, type ShardKeys } from './round-job.js';

/** Structured log sink (the operator's logger fits). */
export interface QueueLog {
  info(msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
  warn(msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
}

export interface BullRoundSchedulerOptions {
  /** ioredis options (host, port, …) or a client; BullMQ's ConnectionOptions. */
  connection: ConnectionOptions;
  /** Default `nodeward-rounds`. */
  queueName?: string;
  /** BullMQ key prefix. Default `nodeward`. */
  prefix?: string;
  /**
   * Called when the Redis connection is ready again after it was lost (Redis may have lost every
   * schedule): the leader should call `reconcileSchedules` with the targets from the CRs.
   */
  onReconnect?: () => void;
  /**
   * The queue of the replica that owns a shard (`ShardOwnership.ownerQueue`): a node new to the
   * schedules gets its first round there. Undefined (no live replica known yet): no first round; the
   * node's shard tick runs it within an interval.
   */
  ownerQueue: (shardId: string) => string | undefined;
  log?: QueueLog;
}

export interface ReconcileResult {
  ensured: number;
  removed: string[];
}

const JOB_OPTS = { attempts: 1, removeOnComplete: true, removeOnFail: true } as const;

/**
 * Sharded round schedules: nodes with the same interval and phase slot (`shardOf`) share one shard,
 * whose tick (one BullMQ job scheduler, `every` = interval, `offset` = the slot's phase, kept by the
 * shard's owner: see ShardOwnership) runs every member's round, so BullMQ's per-job Redis round trips
 * are paid per shard, not per node. Membership lives in Redis: a set per shard, the set of non-empty
 * shards and a hash node → shard, so ensuring an unchanged node is one HGET. A new node also gets a
 * one-off round at once, in its shard owner's queue. Owned by the leader.
 */
export class BullRoundScheduler implements RoundScheduler {
  /** The base queue: its connection holds the membership keys; no job runs in it. */
  readonly queue: Queue<RoundJobData>;
  private readonly log: QueueLog | undefined;
  private readonly keys: ShardKeys;
  private readonly opts: BullRoundSchedulerOptions;
  /** The replicas' queues first rounds were sent to, by name. */
  private readonly replicaQueues = new Map<string, Queue<RoundJobData>>();
  /** Membership changes of one shard run one at a time (so a remove cannot drop a scheduler an add needs). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: BullRoundSchedulerOptions) {
    const prefix = opts.prefix ?? ROUND_QUEUE_PREFIX;
    const queueName = opts.queueName ?? ROUND_QUEUE;
    this.queue = new Queue<RoundJobData>(queueName, { connection: opts.connection, prefix });
    this.keys = shardKeys(prefix, queueName);
    this.log = opts.log;
    this.opts = opts;
    this.queue.on('error', (e: Error) => this.log?.warn('round queue: redis error', { error: e.message }));
    this.watchReconnects(opts.onReconnect);
  }

  async ensure(target: AttestationTarget): Promise<void> {
    const { nodeName, policyName, intervalMs } = target;
    const shard = shardOf(nodeName, Math.max(1, Math.round(intervalMs)));
    const redis = await this.redis();
    const current = await redis.hget(this.keys.nodes, nodeName);
    // Both the hash and the member list must place the node: a node its shard lost while the hash kept it
    // (a resync's clean-up racing this ensure) is put back here, never left without ticks.
    if (current === shard.id && (await redis.sismember(this.keys.members(shard.id), nodeName)) === 1) return;
    // Member and hash entry under the shard's lock, so the clean-up sees both or neither.
    await this.locked(shard.id, async () => {
      await this.addMember(shard, nodeName);
      await redis.hset(this.keys.nodes, nodeName, shard.id);
    });
    // A crash before this leaves a stray member in the old shard, which the next clean-up drops (the hash says where).
    if (current !== null && current !== shard.id) await this.locked(current, () => this.dropMember(current, nodeName));
    // A node new to the schedules (just registered, or schedules lost with Redis) is attested now,
    // not only at its shard's phase up to one interval later.
    if (current === null) await this.firstRound(shard.id, nodeName, policyName);
    this.log?.info('round schedule set', { node: nodeName, policy: policyName, intervalMs: shard.every, shard: shard.id });
  }

  async remove(nodeName: string): Promise<void> {
    const redis = await this.redis();
    const current = await redis.hget(this.keys.nodes, nodeName);
    if (current === null) return;
    await this.locked(current, () => this.dropMember(current, nodeName));
    await redis.hdel(this.keys.nodes, nodeName);
    this.log?.info('round schedule removed', { node: nodeName });
  }

  async list(): Promise<string[]> {
    return (await this.redis()).hkeys(this.keys.nodes);
  }

  /** Node names of a shard (as the worker reads them). */
  async members(shardId: string): Promise<string[]> {
    return (await this.redis()).smembers(this.keys.members(shardId));
  }

  /**
   * Makes the schedules exactly `targets`: ensures each one not already in its shard, removes every other node, and
   * drops members a shard should not have (a move cut short by a crash) and empty shards. The shards' owners make
   * their job schedulers match at their next heartbeat.
   */
  async reconcileSchedules(targetsOrRead: readonly AttestationTarget[] | (() => readonly AttestationTarget[])): Promise<ReconcileResult> {
    // One read of the node → shard hash, so a resync over 10,000 unchanged nodes is not 10,000 HGETs.
    const current = await (await this.redis()).hgetall(this.keys.nodes);
    // Targets read after the hash: a node the reconciler ensured meanwhile is then in both, never removed as stale.
    const targets = typeof targetsOrRead === 'function' ? targetsOrRead() : targetsOrRead;
    const wanted = new Map(targets.map((t) => [t.nodeName, shardOf(t.nodeName, Math.max(1, Math.round(t.intervalMs)))]));
    const placed = await this.placedMembers();
    for (const t of targets) if (current[t.nodeName] !== wanted.get(t.nodeName)!.id || !placed.has(t.nodeName)) await this.ensure(t);
    const removed = Object.keys(current).filter((n) => !wanted.has(n));
    for (const n of removed) await this.remove(n);
    await this.pruneMembers();
    return { ensured: targets.length, removed };
  }

  async close(): Promise<void> {
    for (const q of this.replicaQueues.values()) await q.close();
    this.replicaQueues.clear();
    await this.queue.close();
  }

  private async firstRound(shardId: string, nodeName: string, policyName: string): Promise<void> {
    const name = this.opts.ownerQueue(shardId);
    if (name === undefined) return;
    let q = this.replicaQueues.get(name);
    if (q === undefined) {
      q = new Queue<RoundJobData>(name, { connection: this.opts.connection, prefix: this.opts.prefix ?? ROUND_QUEUE_PREFIX });
      q.on('error', (e: Error) => this.log?.warn('round queue: redis error', { error: e.message }));
      this.replicaQueues.set(name, q);
    }
    await q.add(ROUND_JOB, { nodeName, policyName }, { jobId: `first-${nodeName}`, ...JOB_OPTS });
  }

  /** The queue's connection: BullMQ's Redis backend client is an ioredis client. */
  private async redis(): Promise<Redis> {
    return (await this.queue.getBackend().client) as unknown as Redis;
  }

  private async locked<T>(shardId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(shardId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(shardId, settled);
    void settled.then(() => { if (this.locks.get(shardId) === settled) this.locks.delete(shardId); });
    return next;
  }

  private async addMember(shard: Shard, nodeName: string): Promise<void> {
    const redis = await this.redis();
    results(await redis.multi().sadd(this.keys.members(shard.id), nodeName).sadd(this.keys.shards, shard.id).exec());
  }

  /** Removes a node from a shard; the last member's removal removes the shard (its owner then drops its scheduler). */
  private async dropMember(shardId: string, nodeName: string): Promise<void> {
    const redis = await this.redis();
    const [, left] = results(await redis.multi().srem(this.keys.members(shardId), nodeName).scard(this.keys.members(shardId)).exec());
    if (left !== 0) return;
    await redis.srem(this.keys.shards, shardId);
    this.log?.info('round shard removed', { shard: shardId });
  }

  /** Every node some shard has as a member. */
  private async placedMembers(): Promise<Set<string>> {
    const placed = new Set<string>();
    for (const shardId of await (await this.redis()).smembers(this.keys.shards)) for (const n of await this.members(shardId)) placed.add(n);
    return placed;
  }

  /**
   * Drops members the node hash places elsewhere or nowhere (a move cut short by a crash). The hash is read under the
   * shard's lock, not taken from the resync's targets: those come from the informer, which can lag a node the
   * reconciler has just scheduled, and dropping that node would leave it without ticks.
   */
  private async pruneMembers(): Promise<void> {
    const redis = await this.redis();
    for (const shardId of await redis.smembers(this.keys.shards)) {
      await this.locked(shardId, async () => {
        const members = await this.members(shardId);
        const placed = members.length === 0 ? [] : await redis.hmget(this.keys.nodes, ...members);
        for (const [i, n] of members.entries()) if (placed[i] !== shardId) await this.dropMember(shardId, n);
      });
      // An empty shard left by a crash.
      if ((await redis.scard(this.keys.members(shardId))) === 0) await redis.srem(this.keys.shards, shardId);
    }
  }

  private watchReconnects(onReconnect: (() => void) | undefined): void {
    let connected = false;
    this.queue.waitUntilReady().then(() => { connected = true; }, () => undefined);
    this.queue.getBackend().on('ready', () => {
      if (connected) {
        this.log?.info('round queue: redis connection restored');
        onReconnect?.();
      }
      connected = true;
    });
  }
}

/** The replies of a MULTI/EXEC; the first failed command's error is thrown. */
function results(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('redis transaction aborted');
  for (const [e] of replies) if (e !== null) throw e;
  return replies.map(([, r]) => r);
}
