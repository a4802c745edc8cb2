import { Queue } from 'bullmq';
import { replicaQueueName, ROUND_QUEUE, ROUND_QUEUE_PREFIX } from '@nodeward/operator';
import { attestationPolicy, NODEWARD_NAMESPACE } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import type { OperatorProcess } from '../stack/operator-process.js';
import { getJson, hasTaint, nodeObject } from './kube-read.js';
import {
  credentialSecret, crlSerials, eventCount, lastAttestationTime, metricSum, normSerial, waitCredentialSerial, waitEnforced, waitPhase,
  waitUntrusted,
} from './scenario-helpers.js';

/**
 * The operator under stress a user cannot see directly but relies on: steady-state API load, a
 * Redis restart, a crash between enforcement steps, and two replicas sharing the work.
 */
const STEADY = ['r-1', 'r-2', 'r-3'];
const ALL = [...STEADY, 'r-kill'];
const INTERVAL_MS = 1000;
const FAST_STATUS = { NODEWARD_HEARTBEAT_MS: '500' };

describe('operator resilience (real apiserver, Redis, swtpm agents, operator processes)', () => {
  let stack: Stack;
  let current: OperatorProcess;

  beforeAll(async () => {
    stack = await startStack();
    for (const n of ALL) await stack.addNode(n, { 'nodeward.io/attest': 'true' });
    current = await stack.startOperator();
    await stack.apply([attestationPolicy({ name: 'fleet', selector: { 'nodeward.io/attest': 'true' }, verityRootHash: stack.verityRootHash })]);
    for (const n of ALL) await waitPhase(stack, n, 'Trusted', 120_000);
    for (const n of ALL) await waitCredentialSerial(stack, n);
  }, 300_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it('steady state with every node Trusted costs far less than one API write per round', async () => {
    const port = current.httpPort;
    // Let registration, credential delivery and the first status writes settle.
    await waitRounds(port, ALL.length * 3);
    const before = await writeSamples(port);
    const rounds = await waitRounds(port, ALL.length * 20, 120_000);
    const after = await writeSamples(port);
    const byKind = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, d]) => d > 0);
    const writes = byKind.reduce((n, [, d]) => n + d, 0);
    console.log(`steady state: ${writes} API writes over ${rounds} rounds (${ALL.length} nodes, ${(writes / rounds).toFixed(3)} per round): ${JSON.stringify(Object.fromEntries(byKind))}`);
    expect(await metricSum(port, 'nodeward_rounds_total', 'result="trusted"')).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(ALL.length);
  }, 180_000);

  it('rounds resume after Redis restarts empty: no node skipped for more than two intervals', async () => {
    await current.kill('SIGTERM');
    current = await stack.startOperator('nodeward-operator-fast', FAST_STATUS);
    await waitFor('rounds visible on every node', async () => {
      const times = await Promise.all(ALL.map((n) => lastAttestationTime(stack, n)));
      return times.every((t) => Date.now() - t < 5_000);
    }, 60_000, 200);
    await stack.harness.restartRedis();
    // Redis lost every schedule and every node's state. From the moment it is back, each node must be
    // attested again within two intervals, plus the clients' reconnect back-off (ioredis retries at
    // growing delays, up to 2 s, for the scheduler's and the worker's connections in turn) and the
    // status heartbeat that makes a round visible through kubectl.
    const back = Date.now();
    const allowanceMs = 2 * INTERVAL_MS + 2 * 2_000 + 500;
    const resumed = new Map<string, number>();
    await waitFor('every node attested after the restart', async () => {
      for (const n of ALL) {
        if (resumed.has(n)) continue;
        const t = await lastAttestationTime(stack, n);
        if (t > back) resumed.set(n, t - back);
      }
      return resumed.size === ALL.length;
    }, 60_000, 100);
    console.log(`first attestation per node after Redis came back (ms): ${JSON.stringify(Object.fromEntries(resumed))}`);
    for (const n of ALL) expect(resumed.get(n)).toBeLessThanOrEqual(allowanceMs);
    for (const n of ALL) expect((await getJson<{ status?: { phase?: string } }>(stack, ['get', 'nodeattestation', n])).status?.phase).toBe('Trusted');
  }, 180_000);

  it("shard schedulers lost under live members come back at the owner's next membership heartbeat", async () => {
    const url = new URL(stack.harness.redisUrl);
    // The only replica owns every shard: its queue holds one scheduler per shard.
    const queue = new Queue(replicaQueueName(ROUND_QUEUE, current.identity), { prefix: ROUND_QUEUE_PREFIX, connection: { host: url.hostname, port: Number(url.port) } });
    try {
      const shards = async (): Promise<string[]> => (await queue.getJobSchedulers(0, -1)).map((j) => j.key).filter((k) => k.startsWith('shard:')).sort();
      const before = await waitFor('shard schedulers', async () => { const s = await shards(); return s.length > 0 ? s : undefined; }, 30_000, 200);
      // What a replica that briefly thought it no longer owned them would do: the schedulers go, the membership in Redis stays.
      for (const id of before) await queue.removeJobScheduler(id);
      expect(await shards()).toEqual([]);
      const gone = Date.now();
      await waitFor('shard schedulers recreated', async () => JSON.stringify(await shards()) === JSON.stringify(before), 30_000, 100);
      const repaired = Date.now();
      console.log(`${before.length} shard schedulers recreated ${repaired - gone} ms after removal`);
      // Rounds run again on the recreated schedules, not just on a tick already queued before the removal.
      await waitFor('every node attested after the repair', async () => {
        const times = await Promise.all(ALL.map((n) => lastAttestationTime(stack, n)));
        return times.every((t) => t > repaired);
      }, 30_000, 200);
    } finally {
      await queue.close();
    }
  }, 120_000);

  it('an operator SIGKILLed right after tainting finishes the job exactly once on restart', async () => {
    const serial = await waitCredentialSerial(stack, 'r-kill');
    await stack.nodes.get('r-kill')!.sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    await waitFor('r-kill tainted', async () => hasTaint(await nodeObject(stack, 'r-kill')), 60_000, 20);
    await current.kill('SIGKILL');
    const revokedBeforeKill = (await credentialSecret(stack, 'r-kill')) === undefined;
    console.log(`SIGKILL after taint; credential already revoked at that moment: ${revokedBeforeKill}`);
    current = await stack.startOperator('nodeward-operator-restarted', FAST_STATUS);

    expect((await waitUntrusted(stack, 'r-kill')).status?.lastFailure?.reason).toBe('ima.path_not_in_policy');
    await waitEnforced(stack, 'r-kill', undefined, 60_000);
    await waitFor('r-kill credential revoked after restart', async () =>
      (await credentialSecret(stack, 'r-kill')) === undefined && (await crlSerials(stack)).includes(normSerial(serial)), 60_000);
    await waitFor('CredentialsRevoked Event', async () => (await eventCount(stack, 'r-kill', 'CredentialsRevoked')) > 0, 30_000);
    // A few more rounds under the new operator must not repeat anything.
    await waitRounds(current.httpPort, ALL.length * 3, 60_000);
    expect((await crlSerials(stack)).filter((s) => s === normSerial(serial))).toHaveLength(1);
    // The taint itself exactly once (one taint entry); its Event is written after the taint, so a kill
    // landing between the two loses that Event (Events are best-effort in Kubernetes) but never repeats it.
    expect((await nodeObject(stack, 'r-kill')).spec?.taints?.filter((t) => t.key === 'attestation.nodeward.io/untrusted')).toHaveLength(1);
    expect(await eventCount(stack, 'r-kill', 'NodeTainted')).toBeLessThanOrEqual(1);
    expect(await eventCount(stack, 'r-kill', 'AttestationFailed')).toBe(1);
    expect(await eventCount(stack, 'r-kill', 'CredentialsRevoked')).toBe(1);
  }, 240_000);

  it('two replicas share the rounds, one holds the Lease, and each round runs once', async () => {
    const a = current;
    const b = await stack.startOperator('nodeward-operator-second', FAST_STATUS);
    await waitFor('second replica serving metrics', async () => (await metricSum(b.httpPort, 'nodeward_leader')) >= 0, 30_000);
    // The replicas split the shards: each sees both live, and the nodes they own sum to the fleet.
    const owned = async (): Promise<number[]> => Promise.all([a, b].flatMap((r) => [metricSum(r.httpPort, 'nodeward_live_replicas'), metricSum(r.httpPort, 'nodeward_owned_nodes')]));
    const split = await waitFor('both replicas owning shards', async () => {
      const [liveA, ownedA, liveB, ownedB] = await owned();
      return liveA === 2 && liveB === 2 && ownedA! + ownedB! === ALL.length ? [ownedA!, ownedB!] : undefined;
    }, 30_000, 200);
    console.log(`nodes owned: ${a.identity} ${split[0]}, ${b.identity} ${split[1]}`);
    if (split[1]! > 0) await waitFor('second replica running rounds', async () => (await metricSum(b.httpPort, 'nodeward_rounds_total')) > 0, 60_000);
    const start = { t: Date.now(), a: await metricSum(a.httpPort, 'nodeward_rounds_total'), b: await metricSum(b.httpPort, 'nodeward_rounds_total') };
    await waitFor('30 s of rounds', () => Promise.resolve(Date.now() - start.t >= 30_000), 40_000, 1000);
    const da = (await metricSum(a.httpPort, 'nodeward_rounds_total')) - start.a;
    const db = (await metricSum(b.httpPort, 'nodeward_rounds_total')) - start.b;
    const elapsedS = (Date.now() - start.t) / 1000;
    const perNodePerInterval = (da + db) / ALL.length / (elapsedS * 1000 / INTERVAL_MS);
    console.log(`two replicas over ${elapsedS.toFixed(1)} s: ${a.identity} ran ${da} rounds, ${b.identity} ran ${db}; ${perNodePerInterval.toFixed(2)} rounds per node per interval`);
    // A replica owning no node (4 nodes over 2 replicas can all hash to one) runs no round.
    if (split[0]! > 0) expect(da).toBeGreaterThan(0);
    if (split[1]! > 0) expect(db).toBeGreaterThan(0);
    // Duplicated rounds would show as ~2 per node per interval.
    expect(perNodePerInterval).toBeLessThanOrEqual(1.2);
    expect(perNodePerInterval).toBeGreaterThanOrEqual(0.5);

    const lease = await getJson<{ spec?: { holderIdentity?: string } }>(stack, ['get', 'lease', '-n', NODEWARD_NAMESPACE, 'nodeward-operator']);
    expect([a.identity, b.identity]).toContain(lease.spec?.holderIdentity);
    expect((await metricSum(a.httpPort, 'nodeward_leader')) + (await metricSum(b.httpPort, 'nodeward_leader'))).toBe(1);
  }, 180_000);
});

/** nodeward_api_writes_total samples by label set. */
async function writeSamples(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return new Map(text.split('\n').filter((l) => l.startsWith('nodeward_api_writes_total{'))
    .map((l) => [l.slice(l.indexOf('{'), l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
}

/** Waits until this replica has run `n` more rounds; resolves how many it ran. */
async function waitRounds(port: number, n: number, timeoutMs = 60_000): Promise<number> {
  // A replica just (re)started may not listen yet: every earlier wait can be met by the killed one's work.
  const start = await waitFor('metrics endpoint', () => metricSum(port, 'nodeward_rounds_total'), timeoutMs, 200);
  return waitFor(`${n} rounds`, async () => {
    const d = (await metricSum(port, 'nodeward_rounds_total')) - start;
    return d >= n ? d : undefined;
  }, timeoutMs, 200);
}
