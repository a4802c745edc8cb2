import { jest } from '@jest/globals';
import { Registry } from 'prom-client';
import type { AttestationTarget, RoundOutcome } from '../ports.js';
import { createRoundMetrics } from '../round/round-metrics.js';
import { TestRedis } from '../state/testing/redis-server.js';
import { BullRoundScheduler, shardSchedulerId } from './bull-round-scheduler.js';
import { Redis } from 'ioredis';
import { shardKeys, shardOf } from './round-job.js';
import { RoundWorker } from './round-worker.js';

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

function scheduler(onReconnect?: () => void): BullRoundScheduler {
  const s = new BullRoundScheduler({ connection: redis.connection, queueName, onReconnect });
  closers.push(() => s.close());
  return s;
}

function worker(runRound: (node: string) => Promise<RoundOutcome | undefined>, ids: string[] = [], metrics = createRoundMetrics(new Registry())): RoundWorker {
  const w = new RoundWorker({ connection: redis.connection, queueName, concurrency: 2, runRound, onOutcome: () => Promise.resolve(), metrics });
  w.worker.on('completed', (job) => ids.push(job.id!));
  closers.push(() => w.close());
  return w;
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

async function shardSchedulers(s: BullRoundScheduler): Promise<string[]> {
  return (await s.queue.getJobSchedulers(0, -1)).map((j) => j.id ?? j.key).sort();
}

it('puts nodes in their shard, keeps an unchanged ensure, moves a node on an interval change and removes an empty shard', async () => {
  const s = scheduler();
  const [a, b] = sameShard(2, 60_000);
  const c = sameShard(1, 60_000, 'other').find((n) => shardOf(n, 60_000).id !== shardOf(a!, 60_000).id)!;
  const shardAB = shardOf(a!, 60_000);
  for (const n of [a!, b!, c]) await s.ensure(target(n, 60_000));
  expect((await s.members(shardAB.id)).sort()).toEqual([a, b].sort());
  expect(await shardSchedulers(s)).toEqual([shardSchedulerId(shardAB.id), shardSchedulerId(shardOf(c, 60_000).id)].sort());
  const sched = await s.queue.getJobScheduler(shardSchedulerId(shardAB.id));
  expect(sched).toMatchObject({ every: 60_000, template: { data: { shard: shardAB.id } } });
  expect(sched!.next! % 60_000).toBe(shardAB.offset);
  expect((await s.list()).sort()).toEqual([a, b, c].sort());
  expect(await s.queue.getDelayedCount()).toBe(2); // one tick per shard, not per node

  await s.ensure(target(a!, 60_000, 'other-policy'));
  expect((await s.queue.getJobScheduler(shardSchedulerId(shardAB.id)))!.next).toBe(sched!.next);
  expect(await s.queue.getDelayedCount()).toBe(2);

  await s.ensure(target(a!, 30_000));
  expect(await s.members(shardAB.id)).toEqual([b]);
  expect(await s.members(shardOf(a!, 30_000).id)).toEqual([a]);
  const moved = await s.queue.getJobScheduler(shardSchedulerId(shardOf(a!, 30_000).id));
  expect(moved!.every).toBe(30_000);
  expect(moved!.next! % 30_000).toBe(shardOf(a!, 30_000).offset);
  expect(await s.queue.getDelayedCount()).toBe(3);

  await s.remove(b!);
  await s.remove(b!);
  expect(await s.members(shardAB.id)).toEqual([]);
  expect(await s.queue.getJobScheduler(shardSchedulerId(shardAB.id))).toBeUndefined();
  expect((await s.list()).sort()).toEqual([a, c].sort());
  expect(await s.queue.getDelayedCount()).toBe(2);
});

it('reconcileSchedules removes the stale, drops stray members and makes one scheduler per non-empty shard', async () => {
  const s = scheduler();
  await s.ensure(target('gone', 60_000));
  await s.ensure(target('kept', 60_000));
  await s.ensure(target('lost-scheduler', 60_000));
  // A per-node scheduler of the unsharded shape, a member left in a shard by a move cut short, and a
  // shard scheduler lost (e.g. by a race): all put right.
  await s.queue.upsertJobScheduler('legacy', { every: 60_000 }, { name: 'round', data: { nodeName: 'legacy', policyName: 'p' } });
  const redisClient = new Redis(redis.connection);
  closers.push(async () => { await redisClient.quit(); });
  const keys = shardKeys('nodeward', queueName);
  await redisClient.sadd(keys.members(shardOf('kept', 60_000).id), 'stray');
  await s.queue.removeJobScheduler(shardSchedulerId(shardOf('lost-scheduler', 60_000).id));

  const r = await s.reconcileSchedules([target('kept', 60_000), target('new', 45_000), target('lost-scheduler', 60_000)]);
  expect(r).toEqual({ ensured: 3, removed: ['gone'] });
  expect((await s.list()).sort()).toEqual(['kept', 'lost-scheduler', 'new']);
  expect(await s.members(shardOf('kept', 60_000).id)).toEqual(['kept']);
  expect(await s.members(shardOf('gone', 60_000).id)).not.toContain('gone');
  expect(await shardSchedulers(s)).toEqual([shardOf('kept', 60_000), shardOf('new', 45_000), shardOf('lost-scheduler', 60_000)]
    .map((sh) => shardSchedulerId(sh.id)).sort());
});

it('reconcileSchedules reads the node hash once, then its targets, and re-ensures only nodes not in their shard', async () => {
  const s = scheduler();
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

it('with two workers on one queue runs each round job exactly once, on schedule', async () => {
  const s = scheduler();
  const runs: string[] = [];
  const ids: string[] = [];
  const run = async (node: string): Promise<undefined> => { runs.push(node); await sleep(100); return undefined; };
  worker(run, ids);
  worker(run, ids);
  const nodes = [...sameShard(3, 1000, 'n'), ...sameShard(3, 1000, 'm')];
  for (const node of nodes) await s.ensure(target(node, 1000));
  await sleep(3500);
  await s.reconcileSchedules([]);
  await until('in-flight rounds done', async () => (await s.queue.getActiveCount()) === 0);
  expect(new Set(ids).size).toBe(ids.length);
  // Each first round ran once; each shard tick ran once (ids unique) and ran its members' rounds, so
  // a node's count is its first round plus its shard's ticks, whichever worker took them.
  expect(ids.filter((id) => id.startsWith('first-')).sort()).toEqual(nodes.map((n) => `first-${n}`).sort());
  for (const node of nodes) {
    const count = runs.filter((r) => r === node).length;
    // One immediate first round, then 3 or 4 shard ticks on the 1 s schedule in 3.5 s.
    expect(count).toBeGreaterThanOrEqual(4);
    expect(count).toBeLessThanOrEqual(5);
  }
});

it('hands outcomes to the handler, does not retry a failing round, and observes queue lag', async () => {
  const s = scheduler();
  const metrics = createRoundMetrics(new Registry());
  const outcomes: RoundOutcome[] = [];
  let calls = 0;
  const w = new RoundWorker({
    connection: redis.connection, queueName, metrics, onOutcome: (o) => { outcomes.push(o); return Promise.resolve(); },
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
  const s = scheduler();
  const [bad, ...good] = sameShard(3, 1000, 'f');
  const calls = new Map<string, number>();
  const outcomes: string[] = [];
  const w = new RoundWorker({
    connection: redis.connection, queueName, concurrency: 4, onOutcome: (o) => { outcomes.push(o.nodeName); return Promise.resolve(); },
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
  await until('in-flight rounds done', async () => (await s.queue.getActiveCount()) === 0);
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
  const s = scheduler();
  const rounds = timedRounds(() => 50);
  worker(rounds.run);
  const nodes = [...sameShard(4, 1000, 'c'), ...sameShard(4, 1000, 'd')];
  for (const n of nodes) await s.ensure(target(n, 1000));
  await until('a tick of every shard', () => rounds.runs >= nodes.length * 2);
  expect(rounds.maxInFlight).toBe(2);
});

it("never runs two rounds of a node at once in a replica: a late tick's round for a node still in its round is coalesced", async () => {
  const s = scheduler();
  const metrics = createRoundMetrics(new Registry());
  const rounds = timedRounds((run) => (run === 1 ? 1600 : 10)); // the first round outlasts three ticks
  worker(rounds.run, [], metrics);
  await s.ensure(target('slow', 500));
  await until('rounds after the slow one', () => rounds.runs >= 3);
  expect(rounds.maxInFlight).toBe(1);
  expect((await metrics.roundsCoalesced.get()).values[0]?.value ?? 0).toBeGreaterThanOrEqual(1);
});

it('after Redis restarts empty, reconcileSchedules on reconnect brings every schedule back', async () => {
  const targets = ['r1', 'r2', 'r3'].map((node) => target(node, 500));
  let reconnects = 0;
  const s = scheduler(() => {
    reconnects++;
    s.reconcileSchedules(targets).catch(() => undefined);
  });
  const runs: string[] = [];
  worker((node) => { runs.push(node); return Promise.resolve(undefined); });
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
