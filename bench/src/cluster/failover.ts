import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisSentinelTopology } from '@nodeward/e2e';
import { NODEWARD_NAMESPACE, type OperatorProcess } from '@nodeward/e2e/stack';
import { mapLimit, startBenchStack } from './bench-stack.js';
import type { ClusterView } from './cluster-poller.js';
import type { Fleet } from './fleet-procs.js';
import { fleetIp } from './fleet-range.js';
import { configure, createRealisticNode, PRODUCTION_LEASE, startSoftFleet } from './scale.js';
import { scrape, sum } from './prom.js';
import { fmt, machine, met, quantile, table } from './stats.js';

/**
 * Failover under load: the soft fleet of `nodes` (realistic Node objects) at `intervalS`, `replicas`
 * operator replicas on Redis Sentinel (a primary, a replica, three sentinels) and the production Lease.
 * Once every node is Trusted: a follower replica is SIGKILLed, then the leading one (each replaced by a
 * new replica after its window, as the Deployment would), then the Redis primary. For each, the fleet
 * reports every node's longest time between two quotes in a window from a few intervals before the kill
 * to several after (a round asks one quote).
 */

export interface FailoverOptions { nodes: number; intervalS: number; replicas: number; enrollTimeoutS: number }

const SETTLE_S = 15;
/** Intervals of steady rounds in the window before the kill, and after it. */
const BEFORE_INTERVALS = 3;
const AFTER_INTERVALS = 8;

interface Outcome { event: string; recoveredMs: number; recoveredWhat: string; gaps: number[]; stuckBefore: number }

async function leaderOf(kubectl: (args: string[]) => Promise<string>): Promise<string | undefined> {
  const lease = JSON.parse(await kubectl(['get', 'lease', '-n', NODEWARD_NAMESPACE, 'nodeward-operator', '-o', 'json'])) as { spec?: { holderIdentity?: string } };
  return lease.spec?.holderIdentity;
}

/** Opens a gap window, runs `kill` after BEFORE_INTERVALS, waits AFTER_INTERVALS; the gaps. */
async function window(fleet: Fleet, intervalS: number, kill: () => Promise<{ recoveredMs: number; recoveredWhat: string }>): Promise<Omit<Outcome, 'event'>> {
  await fleet.startGapWindow();
  await sleep(BEFORE_INTERVALS * intervalS * 1000);
  // Nodes already without rounds for two intervals before the kill are not the failover's doing: counted apart.
  const before = await fleet.gaps();
  const killedAt = Date.now();
  const r = await kill();
  await sleep(Math.max(0, AFTER_INTERVALS * intervalS * 1000 - (Date.now() - killedAt)));
  const after = await fleet.gaps();
  const stuck = before.map((g) => g > 2 * intervalS * 1000);
  return { ...r, gaps: after.filter((_, i) => !stuck[i]), stuckBefore: stuck.filter(Boolean).length };
}

function row(o: Outcome, intervalS: number): string[] {
  const ms = intervalS * 1000;
  const worst = Math.max(...o.gaps);
  const over = o.gaps.filter((g) => g > 2 * ms).length;
  return [
    o.event, `${o.recoveredWhat} ${fmt(o.recoveredMs / 1000, 2)} s`,
    `${fmt(worst / 1000, 2)} s (${fmt(worst / ms, 2)} intervals)`, `${fmt(quantile(o.gaps, 0.99) / 1000, 2)} s`, `${fmt(quantile(o.gaps, 0.5) / 1000, 2)} s`,
    `${fmt(over)} of ${fmt(o.gaps.length)}${o.stuckBefore === 0 ? '' : ` (${fmt(o.stuckBefore)} more without rounds before the kill)`}`, `≤ 2 intervals: ${met(worst <= 2 * ms)}`,
  ];
}

export async function failoverBench(o: FailoverOptions, progress: (s: string) => void): Promise<string> {
  let fleet: Fleet | undefined;
  let topology: RedisSentinelTopology | undefined;
  // Filled in once the Sentinel topology runs (before the first replica starts).
  // A dead replica's shards move after the membership TTL plus a heartbeat, and their missed slot runs
  // then: one interval + TTL + heartbeat (+ listing) must stay under two intervals.
  const memberHeartbeatMs = Math.min(2000, (o.intervalS * 1000) / 5);
  const operatorEnv: Record<string, string> = {
    NODEWARD_RESYNC_MS: '60000', NODEWARD_LOG_LEVEL: process.env['SCALE_OPERATOR_LOG_LEVEL'] ?? 'warn',
    NODEWARD_MEMBER_HEARTBEAT_MS: String(memberHeartbeatMs), NODEWARD_MEMBER_TTL_MS: String(3 * memberHeartbeatMs), ...PRODUCTION_LEASE,
  };
  const b = await startBenchStack({
    interval: `${o.intervalS}s`, poll: { everyMs: o.nodes > 2000 ? 10_000 : 3000, phases: true }, operatorEnv,
    before: async (stack) => {
      topology = await RedisSentinelTopology.start({ dir: join(stack.dir, 'sentinel') });
      Object.assign(operatorEnv, topology.operatorEnv());
      const soft = await startSoftFleet(stack, o.nodes, 'ecdsa', progress);
      fleet = soft.fleet;
      await configure(stack, soft.ekCaPem);
    },
  });
  const replicas: OperatorProcess[] = [b.operator];
  try {
    for (let i = 1; i < o.replicas; i++) replicas.push(await b.stack.startOperator(`nodeward-operator-${i}`, operatorEnv));
    const t0 = Date.now();
    await mapLimit(Array.from({ length: o.nodes }, (_, i) => i), 48, (i) => createRealisticNode(b, `soft-${i}`, fleetIp(i)));
    // Enrolled: Trusted at least once (on a loaded box a node may go Stale for a while and come back).
    const enrolled = new Set<string>();
    const count = (v: ClusterView): number => {
      for (const [n, p] of v.phase) if (p === 'Trusted') enrolled.add(n);
      return enrolled.size;
    };
    await b.poller.until(`${o.nodes} enrolled`, (v) => count(v) >= o.nodes, o.enrollTimeoutS * 1000)
      .catch(() => progress(`enrollment deadline (${o.enrollTimeoutS} s): ${enrolled.size} of ${o.nodes} enrolled; measuring anyway`));
    await b.poller.stop();
    const trustedNow = [...b.poller.latest.phase.values()].filter((p) => p === 'Trusted').length;
    progress(`${enrolled.size} enrolled (${trustedNow} Trusted now) after ${fmt((Date.now() - t0) / 1000, 1)} s on ${o.replicas} replicas; settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    const kubectl = (args: string[]): Promise<string> => b.stack.kubectl(args);

    // A dead replica's pod comes back under a new name (a Deployment's ReplicaSet); it joins and takes its share.
    let spawned = o.replicas;
    const replace = async (dead: OperatorProcess): Promise<void> => {
      replicas.splice(replicas.indexOf(dead), 1);
      replicas.push(await b.stack.startOperator(`nodeward-operator-${spawned++}`, operatorEnv));
      await sleep(SETTLE_S * 1000);
    };

    let followerVictim: OperatorProcess | undefined;
    const follower = await window(fleet!, o.intervalS, async () => {
      const id = await leaderOf(kubectl);
      followerVictim = replicas.find((r) => r.identity !== id);
      if (followerVictim === undefined) throw new Error('no follower replica to kill');
      await followerVictim.kill('SIGKILL');
      const killed = Date.now();
      progress(`follower ${followerVictim.identity} SIGKILLed`);
      // Recovered when the survivors' owned nodes (nodeward_owned_nodes) cover the fleet again.
      const survivors = replicas.filter((r) => r !== followerVictim);
      for (;;) {
        const owned = await Promise.all(survivors.map(async (r) => scrape(r.httpPort).then((m) => sum(m, 'nodeward_owned_nodes'), () => 0)));
        if (owned.reduce((t, n) => t + n, 0) >= enrolled.size) return { recoveredMs: Date.now() - killed, recoveredWhat: 'the others own its nodes after' };
        await sleep(100);
      }
    });
    progress(`follower kill: longest gap ${fmt(Math.max(...follower.gaps))} ms`);
    await replace(followerVictim!);

    let leaderVictim: OperatorProcess | undefined;
    const leader = await window(fleet!, o.intervalS, async () => {
      const id = await leaderOf(kubectl);
      const victim = replicas.find((r) => r.identity === id);
      if (victim === undefined) throw new Error(`no replica holds the Lease (holder ${String(id)})`);
      leaderVictim = victim;
      await victim.kill('SIGKILL');
      const killed = Date.now();
      progress(`leader ${victim.identity} SIGKILLed`);
      for (;;) {
        const next = await leaderOf(kubectl).catch(() => undefined);
        if (next !== undefined && next !== id) return { recoveredMs: Date.now() - killed, recoveredWhat: `${next} leads after` };
        await sleep(100);
      }
    });
    progress(`leader kill: longest gap ${fmt(Math.max(...leader.gaps))} ms`);
    await replace(leaderVictim!);

    const redis = await window(fleet!, o.intervalS, async () => {
      const old = await topology!.crashPrimary();
      const killed = Date.now();
      progress(`Redis primary ${old} SIGKILLed`);
      const now = await topology!.waitForFailover(old);
      return { recoveredMs: Date.now() - killed, recoveredWhat: `replica ${now} promoted after` };
    });
    progress(`Redis primary kill: longest gap ${fmt(Math.max(...redis.gaps))} ms`);

    return [
      `Machine: ${machine()}`, '',
      `### Failover: ${fmt(o.nodes)} nodes at ${o.intervalS} s, ${o.replicas} replicas on Redis Sentinel`, '',
      `${fmt(enrolled.size)} of ${fmt(o.nodes)} nodes enrolled, ${fmt(trustedNow)} Trusted at the last poll before the windows. Membership heartbeat ${memberHeartbeatMs} ms, TTL ${3 * memberHeartbeatMs} ms.`, '',
      `Soft fleet (ECDSA AKs), Sentinel topology of the e2e harness (down-after 1 s, quorum 2 of 3). Each window: ${BEFORE_INTERVALS} intervals before the SIGKILL, ${AFTER_INTERVALS} after; a node's gap is its longest time between two quotes served (or since its last one) in the window.`, '',
      table(['SIGKILL of', 'recovery', 'longest gap, any node', 'p99 node', 'median node', 'nodes over 2 intervals', 'target'],
        [row({ event: 'a follower replica', ...follower }, o.intervalS), row({ event: 'the leading replica', ...leader }, o.intervalS), row({ event: 'the Redis primary', ...redis }, o.intervalS)]),
    ].join('\n');
  } finally {
    await b.stop();
    await topology?.stop();
    await fleet?.close();
  }
}
