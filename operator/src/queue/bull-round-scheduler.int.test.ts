import { Registry } from 'prom-client';
import type { AttestationTarget, RoundOutcome } from '../ports.js';
import { createRoundMetrics } from '../round/round-metrics.js';
import { TestRedis } from '../state/testing/redis-server.js';
import { BullRoundScheduler } from './bull-round-scheduler.js';
import { jitterMs } from './round-job.js';
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

it('creates one schedule per node at its phase, keeps it on an unchanged ensure, updates the interval and removes it', async () => {
  const s = scheduler();
  await s.ensure(target('node-a', 60_000));
  await s.ensure(target('node-b', 60_000));
  const a = await s.queue.getJobScheduler('node-a');
  expect(a).toMatchObject({ every: 60_000, template: { data: { nodeName: 'node-a', policyName: 'p' } } });
  expect(a!.next! % 60_000).toBe(jitterMs('node-a', 60_000));
  expect((await s.list()).sort()).toEqual(['node-a', 'node-b']);
  expect(await s.queue.getDelayedCount()).toBe(2);

  await s.ensure(target('node-a', 60_000));
  expect((await s.queue.getJobScheduler('node-a'))!.next).toBe(a!.next);
  expect(await s.queue.getDelayedCount()).toBe(2);

  await s.ensure(target('node-a', 30_000));
  const updated = await s.queue.getJobScheduler('node-a');
  expect(updated!.every).toBe(30_000);
  expect(updated!.next! % 30_000).toBe(jitterMs('node-a', 30_000));
  expect(await s.queue.getDelayedCount()).toBe(2);

  await s.ensure(target('node-a', 30_000, 'other-policy'));
  expect((await s.queue.getJobScheduler('node-a'))!.template!.data!.policyName).toBe('other-policy');

  await s.remove('node-a');
  await s.remove('node-a');
  expect(await s.list()).toEqual(['node-b']);
  expect(await s.queue.getDelayedCount()).toBe(1);
});

it('reconcileSchedules upserts the wanted and removes the stale', async () => {
  const s = scheduler();
  await s.ensure(target('gone', 60_000));
  await s.ensure(target('kept', 60_000));
  const r = await s.reconcileSchedules([target('kept', 60_000), target('new', 45_000)]);
  expect(r).toEqual({ ensured: 2, removed: ['gone'] });
  expect((await s.list()).sort()).toEqual(['kept', 'new']);
});

it('with two workers on one queue runs each round job exactly once, on schedule', async () => {
  const s = scheduler();
  const runs: string[] = [];
  const ids: string[] = [];
  const run = async (node: string): Promise<undefined> => { runs.push(node); await sleep(100); return undefined; };
  worker(run, ids);
  worker(run, ids);
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
  for (const node of nodes) await s.ensure(target(node, 1000));
  await sleep(3500);
  await s.reconcileSchedules([]);
  await until('in-flight rounds done', async () => (await s.queue.getActiveCount()) === 0);
  expect(new Set(ids).size).toBe(ids.length);
  expect(runs.length).toBe(ids.length);
  for (const node of nodes) {
    const count = runs.filter((r) => r === node).length;
    // One immediate first round, then 3 or 4 on the 1 s schedule in 3.5 s.
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
});
