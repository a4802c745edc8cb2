import { jest } from '@jest/globals';
import { Registry } from 'prom-client';
import type { AttestationTarget, RoundOutcome } from '../ports.js';
import { createRoundMetrics } from '../round/round-metrics.js';
import { TestRedis } from '../state/testing/redis-server.js';
import { BullRoundScheduler } from './bull-round-scheduler.js';
import { Redis } from 'ioredis';
import { replicaQueueName, shardKeys, shardOf } from './round-job.js';
import { RoundWorker } from './round-worker.js';
import { ownerOfNode } from './shard-owner.js';
import { shardSchedulerId, ShardOwnership, type Ownership } from './shard-ownership.js';

let redis: TestRedis;
let n = 0;
let queueName: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => { redis = await TestRedis.start(); });
afterAll(async () => { await redis.stop(); });
beforeEach(() => { queueName = `rounds-${process.pid}-${++n}`; });
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const HEARTBEAT_MS = 200;

/** A replica's shard ownership (heartbeat every 200 ms); `started: false` syncs once only, as a replica that then dies. */
async function ownership(identity: string, o: { started?: boolean; seen?: (o: Ownership) => void } = {}): Promise<ShardOwnership> {
  const own = new ShardOwnership({ connection: redis.connection, queueName, identity, heartbeatMs: HEARTBEAT_MS, ...(o.seen ? { onSync: o.seen } : {}) });
  closers.push(() => own.stop());
  if (o.started ?? true) await own.start();
  else await own.sync();
  return own;
}

/** The leader's scheduler, sending first rounds to the owners `route` sees. */
function scheduler(route: ShardOwnership, onReconnect?: () => void): BullRoundScheduler {
  const s = new BullRoundScheduler({ connection: redis.connection, queueName, onReconnect, ownerQueue: (id) => route.ownerQueue(id) });
  closers.push(() => s.close());
  return s;
}

type Rounds = (node: string) => Promise<RoundOutcome | undefined>;

function worker(own: ShardOwnership, runRound: Rounds, ids: string[] = [], metrics = createRoundMetrics(new Registry())): RoundWorker {
  const w = new RoundWorker({ connection: redis.connection, queueName, jobQueueName: own.queueName, owns: (id) => own.owns(id), concurrency: 2, runRound, onOutcome: () => Promise.resolve(), metrics });
  w.worker.on('completed', (job) => ids.push(job.id!));
  closers.push(() => w.close());
  return w;
}

/** One replica (ownership started, worker running) and the scheduler routing to it. */
async function oneReplica(runRound: Rounds, metrics?: ReturnType<typeof createRoundMetrics>): Promise<{ s: BullRoundScheduler; own: ShardOwnership }> {
  const own = await ownership('solo');
  worker(own, runRound, [], metrics);
  return { s: scheduler(own), own };
}

const target = (nodeName: string, intervalMs: number, policyName = 'p'): AttestationTarget =>
  ({ nodeName, policyName, intervalMs, agentUrl: 'https://10.0.0.1:9443' });

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `count` node names that fall in one shard at `every`. */
function sameShard(count: number, every: number, stem = 'node'): string[] {
  const byShard = new Map<string, string[]>();
  for (let i = 0; ; i++) {
    const name = `${stem}-${i}`;
    const members = byShard.get(shardOf(name, every).id) ?? [];
    members.push(name);
    byShard.set(shardOf(name, every).id, members);
    if (members.length === count) return members;
  }
}

/** Rounds that take `ms(run)` each (run counts from 1), counting runs and the most in flight at once. */
function timedRounds(ms: (run: number) => number): { run: () => Promise<undefined>; runs: number; maxInFlight: number } {
  let inFlight = 0;
  const r = {
    runs: 0, maxInFlight: 0,
    run: async (): Promise<undefined> => {
      r.runs++;
      r.maxInFlight = Math.max(r.maxInFlight, ++inFlight);
      await sleep(ms(r.runs));
      inFlight--;
      return undefined;
    },
  };
  return r;
}

async function shardSchedulers(own: ShardOwnership): Promise<string[]> {
  return (await own.queue.getJobSchedulers(0, -1)).map((j) => j.id ?? j.key).sort();
}

it('puts nodes in their shard, keeps an unchanged ensure, moves a node on an interval change and removes an empty shard', async () => {
  const own = await ownership('solo', { started: false });
  const s = scheduler(own);
  const [a, b] = sameShard(2, 60_000);
  const c = sameShard(1, 60_000, 'other').find((n) => shardOf(n, 60_000).id !== shardOf(a!, 60_000).id)!;
  const shardAB = shardOf(a!, 60_000);
  for (const n of [a!, b!, c]) await s.ensure(target(n, 60_000));
  expect((await s.members(shardAB.id)).sort()).toEqual([a, b].sort());
  expect((await s.list()).sort()).toEqual([a, b, c].sort());
  // Each first round went to the owner's queue (the only replica), once per node.
  expect(await own.queue.getWaitingCount()).toBe(3);
  await own.sync();
  expect(await shardSchedulers(own)).toEqual([shardSchedulerId(shardAB.id), shardSchedulerId(shardOf(c, 60_000).id)].sort());
  const sched = await own.queue.getJobScheduler(shardSchedulerId(shardAB.id));
  expect(sched).toMatchObject({ every: 60_000, template: { data: { shard: shardAB.id } } });
  expect(sched!.next! % 60_000).toBe(shardAB.offset);

  await s.ensure(target(a!, 60_000, 'other-policy'));
  await own.sync();
  expect((await own.queue.getJobScheduler(shardSchedulerId(shardAB.id)))!.next).toBe(sched!.next);
  expect(await own.queue.getWaitingCount()).toBe(3);

  await s.ensure(target(a!, 30_000));
  expect(await s.members(shardAB.id)).toEqual([b]);
  expect(await s.members(shardOf(a!, 30_000).id)).toEqual([a]);
  await own.sync();
  const moved = await own.queue.getJobScheduler(shardSchedulerId(shardOf(a!, 30_000).id));
  expect(moved!.every).toBe(30_000);
  expect(moved!.next! % 30_000).toBe(shardOf(a!, 30_000).offset);

  await s.remove(b!);
  await s.remove(b!);
  expect(await s.members(shardAB.id)).toEqual([]);
  await own.sync();
  expect(await own.queue.getJobScheduler(shardSchedulerId(shardAB.id))).toBeUndefined();
  expect((await s.list()).sort()).toEqual([a, c].sort());
  expect(await shardSchedulers(own)).toEqual([shardOf(a!, 30_000), shardOf(c, 60_000)].map((sh) => shardSchedulerId(sh.id)).sort());
});

it('reconcileSchedules removes the stale, drops stray members and empty shards', async () => {
  const own = await ownership('solo', { started: false });
  const s = scheduler(own);
  await s.ensure(target('gone', 60_000));
  await s.ensure(target('kept', 60_000));
  const redisClient = new Redis(redis.connection);
  closers.push(async () => { await redisClient.quit(); });
  const keys = shardKeys('nodeward', queueName);
  // A member left in a shard by a move cut short, and a shard of nothing but strays.
  await redisClient.sadd(keys.members(shardOf('kept', 60_000).id), 'stray');
  await redisClient.multi().sadd(keys.members('60000:599'), 'stray-2').sadd(keys.shards, '60000:599').exec();

  const r = await s.reconcileSchedules([target('kept', 60_000), target('new', 45_000)]);
  expect(r).toEqual({ ensured: 2, removed: ['gone'] });
  expect((await s.list()).sort()).toEqual(['kept', 'new']);
  expect(await s.members(shardOf('kept', 60_000).id)).toEqual(['kept']);
  expect(await s.members(shardOf('gone', 60_000).id)).not.toContain('gone');
  expect((await redisClient.smembers(keys.shards)).sort()).toEqual([...new Set([shardOf('kept', 60_000).id, shardOf('new', 45_000).id])].sort());
  await own.sync();
  expect(await shardSchedulers(own)).toEqual([...new Set([shardOf('kept', 60_000), shardOf('new', 45_000)].map((sh) => shardSchedulerId(sh.id)))].sort());
});

it('reconcileSchedules reads the node hash once, then its targets, and re-ensures only nodes not in their shard', async () => {
  const s = scheduler(await ownership('solo', { started: false }));
  await s.ensure(target('same', 60_000));
  await s.ensure(target('moved', 60_000));
  const ensure = jest.spyOn(s, 'ensure');
  const read = jest.fn(() => [target('same', 60_000), target('moved', 45_000)]);
  const done = s.reconcileSchedules(read);
  // Not read before the hash: a node the reconciler ensures meanwhile must be in the targets too.
  expect(read).not.toHaveBeenCalled();
  expect(await done).toEqual({ ensured: 2, removed: [] });
  expect(read).toHaveBeenCalledTimes(1);
  expect(ensure.mock.calls.map(([t]) => t.nodeName)).toEqual(['moved']);
  expect(await s.members(shardOf('moved', 45_000).id)).toEqual(['moved']);
});

it('a node the reconciler schedules while a resync reads a lagging target list keeps its shard and ticks', async () => {
  const runs: string[] = [];
  const own = await ownership('solo');
  worker(own, (node) => { runs.push(node); return Promise.resolve(undefined); });
  const s = scheduler(own);
  // Two nodes of one shard (in a fleet, a shard has many): the clean-up walks the shards it already has.
  const [kept, late] = sameShard(2, 500) as [string, string];
  await s.ensure(target(kept, 500));
  // The reconciler ensures 'late' after the resync read the node hash and its targets; the targets come
  // from an informer that has not shown the reconciler's status write yet, so they lack 'late'.
  let ensured: Promise<void> | undefined;
  const read = (): AttestationTarget[] => {
    ensured = s.ensure(target(late, 500));
    return [target(kept, 500)];
  };
  // The resync's member clean-up waits for that ensure: the interleaving of the bug, made deterministic.
  const members = s.members.bind(s);
  // Bounded: a clean-up that holds the shard's lock while it reads must not wait for an ensure that needs that lock.
  jest.spyOn(s, 'members').mockImplementation(async (id) => { await Promise.race([ensured, sleep(1_000)]); return members(id); });
  expect(await s.reconcileSchedules(read)).toEqual({ ensured: 1, removed: [] });
  jest.restoreAllMocks();
  const shard = shardOf(late, 500).id;
  expect(await s.members(shard)).toContain(late);
  // The reconciler's next ensure is a no-op only while the shard has it; then it ticks, round after round.
  await s.ensure(target(late, 500));
  runs.length = 0;
  await until('two tick rounds of the late node', () => runs.filter((n) => n === late).length >= 2);
  // The next resync sees it and keeps it.
  await s.reconcileSchedules([target(kept, 500), target(late, 500)]);
  expect((await s.members(shard)).sort()).toEqual([kept, late].sort());
});

it('ensure and reconcileSchedules put back a node its shard lost while the node hash still places it there', async () => {
  const s = scheduler(await ownership('solo', { started: false }));
  await s.ensure(target('n1', 60_000));
  await s.ensure(target('n2', 60_000));
  const client = new Redis(redis.connection);
  closers.push(async () => { await client.quit(); });
  const keys = shardKeys('nodeward', queueName);
  for (const n of ['n1', 'n2']) await client.srem(keys.members(shardOf(n, 60_000).id), n);
  expect(await client.hget(keys.nodes, 'n1')).toBe(shardOf('n1', 60_000).id);
  await s.ensure(target('n1', 60_000));
  expect(await s.members(shardOf('n1', 60_000).id)).toContain('n1');
  await s.reconcileSchedules([target('n1', 60_000), target('n2', 60_000)]);
  expect(await s.members(shardOf('n2', 60_000).id)).toContain('n2');
  expect(await client.sismember(keys.shards, shardOf('n2', 60_000).id)).toBe(1);
});

it("three replicas split the shards: the owned nodes sum to the fleet, and a dead replica's share moves to the others", async () => {
  const seen = new Map<string, Ownership>();
  const see = (id: string) => (o: Ownership): void => { seen.set(id, o); };
  const [r0, r1] = [await ownership('r0', { seen: see('r0') }), await ownership('r1', { seen: see('r1') })];
  // r2 syncs once and never again: a replica SIGKILLed after joining.
  const r2 = await ownership('r2', { started: false, seen: see('r2') });
  const s = scheduler(r0);
  const fleet = Array.from({ length: 400 }, (_, i) => target(`ip-10-0-${i >> 8}-${i & 255}.ec2.internal`, i % 3 === 0 ? 30_000 : 10_000));
  await s.reconcileSchedules(fleet);
  await r2.sync();
  const sum = (ids: string[]): number => ids.reduce((t, id) => t + (seen.get(id)?.nodes ?? 0), 0);
  await until('three replicas see each other and own the fleet', () => ['r0', 'r1', 'r2'].every((id) => seen.get(id)?.replicas === 3) && sum(['r0', 'r1', 'r2']) === fleet.length);
  await r0.sync();
  await r1.sync();
  expect(sum(['r0', 'r1', 'r2'])).toBe(fleet.length);
  for (const id of ['r0', 'r1', 'r2']) {
    const expected = fleet.filter((t) => ownerOfNode(t.nodeName, t.intervalMs, ['r0', 'r1', 'r2']) === id).length;
    expect({ id, nodes: seen.get(id)!.nodes }).toEqual({ id, nodes: expected });
    expect(expected).toBeGreaterThan(fleet.length / 6);
  }
  // Every shard has exactly one scheduler, in its owner's queue.
  const all = [...await shardSchedulers(r0), ...await shardSchedulers(r1), ...await shardSchedulers(r2)].sort();
  expect(all).toEqual([...new Set(fleet.map((t) => shardSchedulerId(shardOf(t.nodeName, t.intervalMs).id)))].sort());

  const died = Date.now();
  await until("r2's shards taken over", () => seen.get('r0')?.replicas === 2 && seen.get('r1')?.replicas === 2 && sum(['r0', 'r1']) === fleet.length);
  const tookMs = Date.now() - died;
  // The TTL (3 heartbeats) plus a heartbeat, with a heartbeat of slack for the loaded test box.
  expect(tookMs).toBeLessThanOrEqual(5 * HEARTBEAT_MS + 500);
  // Its queue goes a TTL later (its scheduler would otherwise sit in Redis forever).
  await until("r2's queue deleted", async () => (await shardSchedulers(r2)).length === 0);
});

/** A node whose shard at `every` the first of `members` owns, and its shard. */
function ownedBy(owner: string, members: string[], every: number): { node: string; shard: ReturnType<typeof shardOf> } {
  for (let i = 0; ; i++) {
    const node = `handover-${i}`;
    if (ownerOfNode(node, every, [owner, ...members]) === owner) return { node, shard: shardOf(node, every) };
  }
}

/** The shard's first slot on its grid at least `leadMs` from now. */
function nextSlot(shard: ReturnType<typeof shardOf>, leadMs: number): number {
  const now = Date.now();
  let t = Math.floor((now - shard.offset) / shard.every) * shard.every + shard.offset;
  while (t < now + leadMs) t += shard.every;
  return t;
}

it('a shard taken over from a replica that died before its slot runs at once, not a whole interval later', async () => {
  const every = 3000;
  const { node, shard } = ownedBy('dead', ['heir'], every);
  const dead = await ownership('dead', { started: false });
  await scheduler(dead).ensure(target(node, every));
  // `dead` takes the shard 300 ms before its slot and never beats again: no worker runs the slot.
  const slot = nextSlot(shard, 500);
  await sleep(slot - 300 - Date.now());
  await dead.sync();
  const heir = await ownership('heir');
  const runs: number[] = [];
  worker(heir, () => { runs.push(Date.now()); return Promise.resolve(undefined); });
  await until('the heir runs the shard', () => runs.length > 0, 2 * every);
  // The heir owns the shard a TTL after dead's last beat (~600 ms): its catch-up tick runs the missed
  // slot then. BullMQ alone would start the new scheduler at the next slot, a whole interval on.
  expect(runs[0]! - slot).toBeLessThan(every / 2);
});

it('a shard handed over by a live replica after it ran a slot does not run that slot twice', async () => {
  const every = 3000;
  const { node, shard } = ownedBy('old', ['new'], every);
  const old = await ownership('old');
  const runs: { replica: string; at: number }[] = [];
  const oldWorker = new RoundWorker({ connection: redis.connection, queueName, jobQueueName: old.queueName, owns: (id) => old.owns(id), runRound: () => { runs.push({ replica: 'old', at: Date.now() }); return Promise.resolve(undefined); }, onOutcome: () => Promise.resolve() });
  closers.push(() => oldWorker.close());
  const heir = await ownership('new');
  worker(heir, () => { runs.push({ replica: 'new', at: Date.now() }); return Promise.resolve(undefined); });
  await until('both live', () => old.replicas().length === 2 && heir.replicas().length === 2);
  await scheduler(old).ensure(target(node, every));
  // `old` runs a slot, then leaves; `new` takes the shard within a heartbeat and adds its catch-up tick.
  const slot = nextSlot(shard, 1000);
  await until('old runs the slot', () => runs.some((r) => r.at >= slot - 100), 2 * every);
  await oldWorker.close();
  await old.stop();
  await until('new owns the shard', () => heir.owns(shard.id));
  await sleep(every - (Date.now() - slot) - 300);
  // Up to 300 ms before the next slot: the one slot ran once, by old.
  expect(runs.filter((r) => r.at >= slot - 100)).toEqual([{ replica: 'old', at: expect.any(Number) }]);
  await until('new runs the next slot', () => runs.some((r) => r.replica === 'new'), 2 * every);
  expect(runs.find((r) => r.replica === 'new')!.at).toBeGreaterThanOrEqual(slot + every - 50);
});

it('a replica whose sync outlasts the TTL (a slow listing of its new shards) stays live to the others', async () => {
  const other = await ownership('steady');
  let slow = false;
  const own = new ShardOwnership({
    connection: redis.connection, queueName, identity: 'lister', heartbeatMs: HEARTBEAT_MS,
    // Caching the newly owned shards takes 2 s, over three TTLs (600 ms).
    onOwned: async () => { if (slow) await sleep(2000); },
  });
  closers.push(() => own.stop());
  await own.start();
  await until('both live', () => other.replicas().length === 2 && own.replicas().length === 2);
  slow = true;
  const seen: number[] = [];
  const end = Date.now() + 2500;
  while (Date.now() < end) {
    seen.push(other.replicas().length);
    await sleep(50);
  }
  expect(Math.min(...seen)).toBe(2);
});

it("each replica runs only its own shards' rounds, each once per tick, and a first round runs on the owner", async () => {
  const ran: { replica: string; node: string }[] = [];
  const replicas = [await ownership('a'), await ownership('b'), await ownership('c')];
  await until('all live', () => replicas.every((r) => r.replicas().length === 3));
  const ids: string[] = [];
  for (const r of replicas) {
    const id = r.queueName.slice(r.queueName.lastIndexOf('-') + 1);
    worker(r, async (node) => { ran.push({ replica: id, node }); await sleep(50); return undefined; }, ids);
  }
  const s = scheduler(replicas[0]!);
  const nodes = Array.from({ length: 60 }, (_, i) => `n-${i}`);
  for (const node of nodes) await s.ensure(target(node, 1000));
  const t0 = Date.now();
  await sleep(3500);
  await s.reconcileSchedules([]);
  await sleep(HEARTBEAT_MS * 2);
  await until('in-flight rounds done', async () => (await Promise.all(replicas.map((r) => r.queue.getActiveCount()))).every((c) => c === 0));
  const elapsed = Date.now() - t0;
  for (const node of nodes) {
    const runs = ran.filter((r) => r.node === node);
    expect(new Set(runs.map((r) => r.replica))).toEqual(new Set([ownerOfNode(node, 1000, ['a', 'b', 'c'])]));
    // One immediate first round, then a tick a second for ~3.5 s (the schedulers appear within a heartbeat).
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 1000));
  }
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.filter((id) => id.startsWith('first-')).sort()).toEqual(nodes.map((n) => `first-${n}`).sort());
});

it('a tick held by two replicas at once (their views of the live set differ) runs once', async () => {
  const [a, b] = [await ownership('x', { started: false }), await ownership('y', { started: false })];
  const runs: string[] = [];
  for (const r of [a, b]) worker(r, (node) => { runs.push(node); return Promise.resolve(undefined); });
  const [node] = sameShard(1, 1000, 'dup');
  const shard = shardOf(node!, 1000);
  const s = scheduler(a);
  await s.ensure(target(node!, 1000));
  // Both replicas schedule the same shard, as two that each believe they own it would.
  for (const r of [a, b]) {
    await r.queue.upsertJobScheduler(shardSchedulerId(shard.id), { every: shard.every, offset: shard.offset },
      { name: 'round', data: { shard: shard.id }, opts: { removeOnComplete: true, removeOnFail: true } });
  }
  // Owner judgement aside (both claim the shard), only the Redis claim decides.
  (a as unknown as { owned: Set<string> }).owned = new Set([shard.id]);
  (b as unknown as { owned: Set<string> }).owned = new Set([shard.id]);
  await sleep(3300);
  // One first round and one round per tick: 3 or 4 ticks in 3.3 s (each scheduler's immediate first job claims the tick before it).
  expect(runs.length).toBeGreaterThanOrEqual(4);
  expect(runs.length).toBeLessThanOrEqual(6);
  expect(replicaQueueName(queueName, 'x')).toBe(a.queueName);
});

it('hands outcomes to the handler, does not retry a failing round, and observes queue lag', async () => {
  const own = await ownership('solo');
  const s = scheduler(own);
  const metrics = createRoundMetrics(new Registry());
  const outcomes: RoundOutcome[] = [];
  let calls = 0;
  const w = new RoundWorker({
    connection: redis.connection, queueName, jobQueueName: own.queueName, owns: (id) => own.owns(id), metrics, onOutcome: (o) => { outcomes.push(o); return Promise.resolve(); },
    runRound: (node) => {
      calls++;
      if (node === 'bad') return Promise.reject(new Error('boom'));
      return Promise.resolve({ kind: 'unreachable', nodeName: node, policyName: 'p', at: new Date(), error: 'x' });
    },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  closers.push(() => w.close());
  // A node new to the schedule gets its first round at once, not at its phase up to a minute away.
  await s.ensure(target('bad', 60_000));
  await s.ensure(target('good', 60_000));
  await until('both rounds', () => calls === 2 && outcomes.length === 1);
  await sleep(1000);
  expect(calls).toBe(2);
  expect(outcomes.map((o) => o.nodeName)).toEqual(['good']);
  expect((await metrics.queueLagSeconds.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(2);
});

it("a round that throws does not stop its shard's other rounds", async () => {
  const own = await ownership('solo');
  const s = scheduler(own);
  const [bad, ...good] = sameShard(3, 1000, 'f');
  const calls = new Map<string, number>();
  const outcomes: string[] = [];
  const w = new RoundWorker({
    connection: redis.connection, queueName, jobQueueName: own.queueName, owns: (id) => own.owns(id), concurrency: 4, onOutcome: (o) => { outcomes.push(o.nodeName); return Promise.resolve(); },
    runRound: (node) => {
      calls.set(node, (calls.get(node) ?? 0) + 1);
      if (node === bad) throw new Error('boom');
      return Promise.resolve({ kind: 'unreachable', nodeName: node, policyName: 'p', at: new Date(), error: 'x' });
    },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  closers.push(() => w.close());
  for (const n of [bad!, ...good]) await s.ensure(target(n, 1000));
  await sleep(2600);
  await s.reconcileSchedules([]);
  await until('in-flight rounds done', async () => (await own.queue.getActiveCount()) === 0);
  // Each node's first round is immediate and the ensures are sequential, so a
  // shard tick can fall between them: counts may differ by one, never more.
  const badCalls = calls.get(bad!) ?? 0;
  expect(badCalls).toBeGreaterThanOrEqual(3); // the first round, then 2 or 3 ticks
  for (const n of good) {
    const goodCalls = calls.get(n) ?? 0;
    expect(goodCalls).toBeGreaterThanOrEqual(3);
    expect(Math.abs(goodCalls - badCalls)).toBeLessThanOrEqual(1);
    expect(outcomes.filter((o) => o === n).length).toBe(goodCalls);
  }
});

it("bounds the replica's rounds by its concurrency across all shard jobs", async () => {
  const rounds = timedRounds(() => 50);
  const { s } = await oneReplica(rounds.run);
  const nodes = [...sameShard(4, 1000, 'c'), ...sameShard(4, 1000, 'd')];
  for (const n of nodes) await s.ensure(target(n, 1000));
  await until('a tick of every shard', () => rounds.runs >= nodes.length * 2);
  expect(rounds.maxInFlight).toBe(2);
});

it("never runs two rounds of a node at once in a replica: a late tick's round for a node still in its round is coalesced", async () => {
  const metrics = createRoundMetrics(new Registry());
  const rounds = timedRounds((run) => (run === 1 ? 1600 : 10)); // the first round outlasts three ticks
  const { s } = await oneReplica(rounds.run, metrics);
  await s.ensure(target('slow', 500));
  await until('rounds after the slow one', () => rounds.runs >= 3);
  expect(rounds.maxInFlight).toBe(1);
  expect((await metrics.roundsCoalesced.get()).values[0]?.value ?? 0).toBeGreaterThanOrEqual(1);
});

it('after Redis restarts empty, reconcileSchedules on reconnect brings every schedule back', async () => {
  const targets = ['r1', 'r2', 'r3'].map((node) => target(node, 500));
  let reconnects = 0;
  const own = await ownership('solo');
  const s = scheduler(own, () => {
    reconnects++;
    s.reconcileSchedules(targets).catch(() => undefined);
  });
  const runs: string[] = [];
  worker(own, (node) => { runs.push(node); return Promise.resolve(undefined); });
  await s.reconcileSchedules(targets);
  await until('rounds before the restart', () => targets.every((t) => runs.includes(t.nodeName)));

  await redis.stop();
  await sleep(300);
  await redis.start();
  runs.length = 0;
  await until('reconnect', () => reconnects > 0);
  await until('schedules back', async () => (await s.list()).length === 3);
  await until('rounds after the restart', () => targets.every((t) => runs.includes(t.nodeName)));
  expect((await s.list()).sort()).toEqual(['r1', 'r2', 'r3']);
  for (const t of targets) expect(await s.members(shardOf(t.nodeName, 500).id)).toContain(t.nodeName);
});
