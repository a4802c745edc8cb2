import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueueLog } from './bull-round-scheduler.js';
import { replicaQueueName, ROUND_JOB, ROUND_QUEUE, ROUND_QUEUE_PREFIX, shardFromId, shardKeys, type RoundJobData, type Shard, type ShardKeys } from './round-job.js';
import { ownerOf } from './shard-owner.js';

/** What a replica owns after a sync (for nodeward_owned_nodes and its siblings). */
export interface Ownership {
  nodes: number;
  shards: number;
  /** Live replicas this replica sees, itself included. */
  replicas: number;
}

export interface ShardOwnershipOptions {
  connection: ConnectionOptions;
  /** This replica's name (the pod name): unique among live replicas. */
  identity: string;
  /** Default `nodeward-rounds`. */
  queueName?: string;
  /** BullMQ key prefix. Default `nodeward`. */
  prefix?: string;
  /** How often the replica renews its membership and re-syncs what it owns. Default 2 s. */
  heartbeatMs?: number;
  /** A replica whose heartbeat is this old is no longer live; its shards move. Default 3 heartbeats. */
  ttlMs?: number;
  onSync?: (o: Ownership) => void;
  /**
   * Told the shards this replica owns after each sync, and awaited before their ticks are scheduled
   * here: the caches a round reads take in a newly owned shard's nodes before its first tick runs.
   * A failure is logged; the schedulers are synced anyway (a round whose node is not cached is skipped).
   */
  onOwned?: (shards: ReadonlySet<string>) => Promise<void>;
  log?: QueueLog;
}

/**
 * Heartbeat (Redis server time, so replicas' clocks do not matter): renews this replica's expiry in the
 * replicas' sorted set; removes replicas expired for a further TTL and returns them (once, to one
 * caller, who deletes their queues); returns the live replicas.
 */
const BEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl) end
return { redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf'), gone }`;

const JOB_OPTS = { attempts: 1, removeOnComplete: true, removeOnFail: true } as const;
/** Job scheduler id of a shard in a replica's queue. */
export const shardSchedulerId = (shardId: string): string => `shard:${shardId}`;

/**
 * Which shards this replica runs. Every replica heartbeats into one Redis sorted set and reads the live
 * replicas from it; a shard belongs to `ownerOf(shard, live replicas)` (rendezvous hashing). Each
 * replica keeps exactly one BullMQ job scheduler per shard it owns, in its own queue
 * (`replicaQueueName`), and its worker consumes only that queue: it talks only to its own nodes'
 * agents. The leader keeps the shards' membership (node → shard, in Redis); every replica syncs its
 * schedulers from it each heartbeat, so a new shard, or a shard whose owner joined, left or died, is
 * scheduled within one heartbeat of the membership change (a dead replica leaves after the TTL).
 */
export class ShardOwnership {
  /** This replica's round queue. */
  readonly queueName: string;
  readonly queue: Queue<RoundJobData>;
  private readonly opts: ShardOwnershipOptions;
  private readonly keys: ShardKeys;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;
  private live: string[] = [];
  private owned = new Set<string>();
  /** Every shard id at the last sync (undefined before the first). */
  private knownShards: ReadonlySet<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  /** A heartbeat renewing the membership while a sync runs. */
  private beating: Promise<unknown> | undefined;

  constructor(opts: ShardOwnershipOptions) {
    this.opts = opts;
    const base = opts.queueName ?? ROUND_QUEUE;
    const prefix = opts.prefix ?? ROUND_QUEUE_PREFIX;
    this.queueName = replicaQueueName(base, opts.identity);
    this.queue = new Queue<RoundJobData>(this.queueName, { connection: opts.connection, prefix });
    this.queue.on('error', (e: Error) => opts.log?.warn('replica queue: redis error', { error: e.message }));
    this.keys = shardKeys(prefix, base);
    this.heartbeatMs = opts.heartbeatMs ?? 2000;
    this.ttlMs = opts.ttlMs ?? 3 * this.heartbeatMs;
    if (!(this.heartbeatMs > 0 && this.ttlMs > this.heartbeatMs)) throw new RangeError(`shard ownership: the TTL (${this.ttlMs} ms) must exceed the heartbeat (${this.heartbeatMs} ms)`);
  }

  /** The first sync (so `ownerQueue` answers), then one every heartbeat. A failed sync is logged and retried at the next. */
  async start(): Promise<void> {
    await this.sync().catch((e: unknown) => this.opts.log?.warn('shard ownership sync failed', { error: errorText(e) }));
    this.timer = setInterval(() => {
      // A sync can outlast a heartbeat (its onOwned lists the newly owned shards, seconds at 10,000
      // nodes on a loaded machine): the membership is renewed meanwhile, or the others would count this
      // replica dead, take its shards and list them in turn, and the lapse would spread.
      const run = this.syncing === undefined ? this.sync() : (this.beating ??= this.beat().finally(() => { this.beating = undefined; }));
      void run.catch((e: unknown) => this.opts.log?.warn('shard ownership sync failed', { error: errorText(e) }));
    }, this.heartbeatMs);
  }

  /** Whether this replica owns the shard, as of its last sync. */
  owns(shardId: string): boolean {
    return this.owned.has(shardId);
  }

  /** The queue of the replica that owns the shard, as of the last sync; undefined before one. */
  ownerQueue(shardId: string): string | undefined {
    const owner = ownerOf(shardId, this.live);
    return owner === undefined ? undefined : replicaQueueName(this.opts.queueName ?? ROUND_QUEUE, owner);
  }

  /** The shards this replica owns, as of its last sync. */
  ownedShards(): ReadonlySet<string> {
    return this.owned;
  }

  /** The live replicas as of the last sync. */
  replicas(): readonly string[] {
    return this.live;
  }

  /** Renews the heartbeat, reads the live replicas and makes this replica's schedulers its shards. One at a time. */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => { this.syncing = undefined; });
    return this.syncing;
  }

  /**
   * Leaves: stops the heartbeat, removes this replica from the live set (the others take its shards at
   * their next heartbeat) and deletes its queue. Call after this replica's worker is closed.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    // A heartbeat still in flight would add this replica back after it leaves.
    await Promise.all([this.syncing?.catch(() => undefined), this.beating?.catch(() => undefined)]);
    try {
      await (await this.redis()).zrem(this.keys.replicas, this.opts.identity);
      await this.queue.obliterate({ force: true });
    } catch (e) {
      this.opts.log?.warn('shard ownership: leaving failed; the others take over after the TTL', { error: errorText(e) });
    }
    await this.queue.close();
  }

  /** Renews this replica's membership and reads the live replicas; deletes the queues of replicas long gone. */
  private async beat(): Promise<Redis> {
    const redis = await this.redis();
    const [live, gone] = await redis.eval(BEAT, 1, this.keys.replicas, this.opts.identity, String(this.ttlMs)) as [string[], string[]];
    this.live = [...live].sort();
    for (const g of gone) await this.deleteQueueOf(g);
    return redis;
  }

  private async syncOnce(): Promise<void> {
    const redis = await this.beat();
    const ids = await redis.smembers(this.keys.shards);
    const mine: Shard[] = [];
    for (const id of ids) {
      const shard = shardFromId(id);
      if (shard !== undefined && ownerOf(id, this.live) === this.opts.identity) mine.push(shard);
    }
    const owned = new Set(mine.map((s) => s.id));
    await this.opts.onOwned?.(owned).catch((e: unknown) => this.opts.log?.warn('caching the owned shards failed', { error: errorText(e) }));
    this.owned = owned;
    // A shard that appeared since the last sync has no slot to catch up: its first member's first round runs at once.
    const known = this.knownShards;
    await this.syncSchedulers(mine, (id) => known === undefined || known.has(id));
    this.knownShards = new Set(ids);
    const sizes = mine.length === 0 ? [] : await Promise.all(mine.map((s) => redis.scard(this.keys.members(s.id))));
    this.opts.onSync?.({ nodes: sizes.reduce((t, n) => t + n, 0), shards: mine.length, replicas: this.live.length });
  }

  /**
   * Makes this replica's schedulers its shards. A shard newly scheduled here also gets one tick at once
   * (unless `catchUp` says it is new to the fleet): BullMQ starts a scheduler with a phase at its next
   * slot, so a shard taken over from a replica that died, or reached only after its caches were listed,
   * would otherwise wait a whole interval more. The worker counts that tick as the shard's last slot on
   * the grid (`claimTick`): it runs only if no replica ran that slot, so a shard handed over from a live
   * replica is not attested twice.
   */
  private async syncSchedulers(mine: Shard[], catchUp: (shardId: string) => boolean): Promise<void> {
    const existing = new Map((await this.queue.getJobSchedulers(0, -1)).map((s) => [s.id ?? s.key, s]));
    const scheduled: Shard[] = [];
    for (const shard of mine) {
      const s = existing.get(shardSchedulerId(shard.id));
      if (s?.every !== undefined && Number(s.every) === shard.every) continue;
      await this.queue.upsertJobScheduler(shardSchedulerId(shard.id), { every: shard.every, offset: shard.offset },
        { name: ROUND_JOB, data: { shard: shard.id }, opts: JOB_OPTS });
      scheduled.push(shard);
      this.opts.log?.info('round shard scheduled', { shard: shard.id, intervalMs: shard.every, offsetMs: shard.offset, replica: this.opts.identity });
    }
    const late = scheduled.filter((s) => catchUp(s.id));
    if (late.length > 0) await this.queue.addBulk(late.map((s) => ({ name: ROUND_JOB, data: { shard: s.id }, opts: JOB_OPTS })));
    const keep = new Set(mine.map((s) => shardSchedulerId(s.id)));
    for (const id of existing.keys()) {
      if (keep.has(id)) continue;
      await this.queue.removeJobScheduler(id);
      this.opts.log?.info('round shard released', { scheduler: id, replica: this.opts.identity });
    }
  }

  /** A replica gone for a TTL past its expiry: its queue (schedulers, a first round it never ran) goes. */
  private async deleteQueueOf(identity: string): Promise<void> {
    const q = new Queue(replicaQueueName(this.opts.queueName ?? ROUND_QUEUE, identity), { connection: this.opts.connection, prefix: this.opts.prefix ?? ROUND_QUEUE_PREFIX });
    try {
      await q.obliterate({ force: true });
      this.opts.log?.info('queue of a departed replica deleted', { replica: identity });
    } finally {
      await q.close();
    }
  }

  private async redis(): Promise<Redis> {
    return (await this.queue.getBackend().client) as unknown as Redis;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
