import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createRuntimePolicy, parseImaBinaryLog } from '@nodeward/attest';
import { encodeImaNgEntry } from '@nodeward/attest/testing';
import { AGENT_PORT, configMap, KNOWN_GOOD_FILES, RUNTIME_POLICY_CONFIGMAP, TRUST_ANCHORS_CONFIGMAP, type OperatorProcess, type Stack } from '@nodeward/e2e/stack';
import type { SoftAk } from '@nodeward/e2e/sim';
import { realisticNode } from '@nodeward/operator/testing';
import { createHash } from 'node:crypto';
import { mapLimit, SELECTOR_LABEL, startBenchStack, type BenchStack } from './bench-stack.js';
import type { ClusterView } from './cluster-poller.js';
import { createIssuer } from './fleet-pki.js';
import { startFleet, type Fleet } from './fleet-procs.js';
import { fleetIp, issuerPem, type FleetSpec } from './fleet-range.js';
import { barsPng, resultsDir } from './plots.js';
import { project, type MeasuredCosts } from './projection.js';
import { bucketDelta, bucketQuantile, parseExposition, scrape, sum, type Samples } from './prom.js';
import { cpuSeconds, fmt, machine, met, rssMiB, table } from './stats.js';

/**
 * Scale: N soft agents (one process, one mTLS listener per 127.0.x.y) with realistic Node objects
 * (realisticNode: 50 images, conditions, labels, annotations), R operator replicas, the policy at
 * `intervalS`. After every node is Trusted and a settle period, a steady-state window measures
 * rounds/s, operator CPU, queue lag, RSS per replica, the nodes each owns, Redis memory and API writes.
 */

export interface ScaleOptions {
  nodeCounts: number[]; intervalS: number; windowS: number; ak: SoftAk['scheme'];
  /** Operator replicas, one run per count (each on a fresh stack). */
  replicas: number[];
  /** How long to wait for every node to be Trusted; past it the window is measured anyway (and says how many were). */
  enrollTimeoutS: number;
}

const FLEET_FILES = Array.from({ length: 64 }, (_, i) => ({ path: `/usr/lib/fleet/tool-${i}`, contents: `fleet tool ${i} (simulated)` }));
const SETTLE_S = 20;

function runtimePolicyJson(): string {
  const files = [...KNOWN_GOOD_FILES, ...FLEET_FILES];
  const log = Buffer.concat(files.map((f) => encodeImaNgEntry({ path: f.path, fileDigest: createHash('sha256').update(f.contents).digest(), fileDigestAlg: 'sha256' }).bytes));
  return JSON.stringify(createRuntimePolicy(parseImaBinaryLog(log)));
}

export async function configure(stack: Stack, ekCaPem: string): Promise<void> {
  await stack.apply([
    configMap(TRUST_ANCHORS_CONFIGMAP, { 'roots.pem': stack.swtpmCa.rootCertPem + stack.swtpmCa.issuerCertPem + ekCaPem }),
    configMap(RUNTIME_POLICY_CONFIGMAP, { 'runtime-policy.json': runtimePolicyJson() }),
  ]);
}

export async function startSoftFleet(stack: Stack, n: number, ak: SoftAk['scheme'], progress: (s: string) => void): Promise<{ fleet: Fleet; ekCaPem: string }> {
  const ekCa = await createIssuer('Nodeward soft TPM manufacturer CA');
  const spec: FleetSpec = {
    ak, cmdline: `BOOT_IMAGE=/vmlinuz root=/dev/mapper/root ro ima_policy=tcb roothash=${stack.verityRootHash}`, verityRootHash: stack.verityRootHash,
    agentCa: { certPem: stack.pki.agentCa.certPem, keyPem: stack.pki.agentCa.keyPem }, ekCa: await issuerPem(ekCa),
    operatorCaPem: stack.pki.operatorCa.certPem, files: FLEET_FILES, entriesPerRound: 3,
  };
  const t0 = Date.now();
  const fleet = await startFleet(spec, n, AGENT_PORT);
  const procs = fleet.childPids().length;
  progress(`fleet of ${n} listening after ${Date.now() - t0} ms${procs === 0 ? '' : ` (${procs} processes)`}`);
  return { fleet, ekCaPem: ekCa.cert.toString('pem') };
}

async function redisUsedMiB(url: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    return Number(/^used_memory:(\d+)/m.exec(await r.info('memory'))?.[1] ?? Number.NaN) / 2 ** 20;
  } finally {
    r.disconnect();
  }
}

/** The API server's own /metrics (every client's requests, by verb and resource). */
async function apiServerMetrics(kc: KubeConfig): Promise<Samples> {
  const url = new URL('/metrics', kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    https.get(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body)).on('error', reject);
    }).on('error', reject);
  });
  return parseExposition(text);
}

const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'];

/** Mutating requests the API server served, all resources and of them Leases (leader election). */
function apiServerWrites(m: Samples): { all: number; leases: number } {
  const count = (...match: string[]): number => WRITE_VERBS.reduce((t, v) => t + sum(m, 'apiserver_request_total', `verb="${v}"`, ...match), 0);
  return { all: count(), leases: count('resource="leases"') };
}

interface ScalePoint { nodes: number; roundsPerS: number; dueRoundsPerS: number; roundsPerCoreS: number; at: string }

/** Every node count's latest point (bench/results/scale-points.json), so the plot spans separate runs. */
async function recordPoint(p: ScalePoint): Promise<ScalePoint[]> {
  const path = join(resultsDir(), 'scale-points.json');
  const old = await readFile(path, 'utf8').then((t) => JSON.parse(t) as ScalePoint[], () => []);
  const points = [...old.filter((x) => x.nodes !== p.nodes), p].sort((a, b) => a.nodes - b.nodes);
  await writeFile(path, `${JSON.stringify(points, null, 1)}\n`);
  return points;
}

/** Redraws scale-throughput.png from scale-points.json: sustained rounds/s per node count, the rate due in red. */
export async function scalePlot(): Promise<string> {
  const points = JSON.parse(await readFile(join(resultsDir(), 'scale-points.json'), 'utf8')) as ScalePoint[];
  return barsPng('scale-throughput.png', points.map((p) => ({ label: `${fmt(p.nodes)} nodes`, value: p.roundsPerS, mark: p.dueRoundsPerS })), '/s', 'due');
}

/** CPU seconds of each harness child (by command name), of this process (driver, and the fleet unless split), of the fleet's processes and of the operator replicas. */
function cpuByProcess(b: BenchStack, ops: readonly OperatorProcess[], fleet: Fleet | undefined): Record<string, number> {
  const children = fleet?.childPids() ?? [];
  const out: Record<string, number> = children.length === 0
    ? { 'fleet + bench driver': cpuSeconds(process.pid) }
    : { 'bench driver': cpuSeconds(process.pid), fleet: children.reduce((t, pid) => t + cpuSeconds(pid), 0) };
  out['operator'] = ops.reduce((t, op) => t + cpuSeconds(op.pid()!), 0);
  for (const pid of b.stack.harness.pids()) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      out[comm] = (out[comm] ?? 0) + cpuSeconds(pid);
    } catch { /* exited */ }
  }
  return out;
}

interface ReplicaFigures { identity: string; leader: boolean; owned: number; rssMiB: number; peakMiB: number; cpuCores: number }

/** One run's figures for the summary table and the projection. */
interface ScaleRow {
  nodes: number; replicas: number; markdown: string[]; roundsPerS: number; dueRoundsPerS: number; roundsPerCoreS: number;
  perNode5: number; redisMiB: number; opCpuPerRound: number; perReplica: ReplicaFigures[]; nodeJsonBytes: number;
}

/** Creates Node `name` shaped like a real worker's (realisticNode) at `ip`; resolves its JSON size as the API server serves it. */
/** A realistic Node (realisticNode) selected by the bench policy; its JSON size as the API server returns it. */
export async function createRealisticNode(b: BenchStack, name: string, ip: string): Promise<number> {
  b.stack.harness.addresses.reserve(ip);
  const full = realisticNode(name, ip, { [SELECTOR_LABEL]: 'true' });
  await b.core.createNode({ body: { ...full, status: {} } });
  // A merge patch, not a replace: kube-controller-manager may have changed the Node since its creation.
  const written = await b.core.patchNodeStatus({ name, body: { status: full.status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  return JSON.stringify(written).length;
}

/** The Deployment's Lease timings (config defaults), for benches that load the machine. */
export const PRODUCTION_LEASE = { NODEWARD_LEASE_DURATION_MS: '15000', NODEWARD_LEASE_RETRY_MS: '2000' } as const;

async function startReplicas(b: BenchStack, count: number, env: Record<string, string>): Promise<OperatorProcess[]> {
  const ops = [b.operator];
  for (let i = 1; i < count; i++) ops.push(await b.stack.startOperator(`nodeward-operator-${i}`, env));
  return ops;
}

/** Sum of one metric over every replica's scrape. */
const sumAll = (ms: readonly Samples[], name: string, match = ''): number => ms.reduce((t, m) => t + sum(m, name, match), 0);

async function runOne(n: number, replicas: number, o: ScaleOptions, progress: (s: string) => void): Promise<ScaleRow> {
  let fleet: Fleet | undefined;
  let ekCaPem = '';
  // The production Lease (15 s, renewed every 2 s), not the test stack's 4 s: while 10,000 nodes enroll
  // on two shared cores a 4 s Lease lapses, and every change of leader re-lists the fleet.
  const operatorEnv = { NODEWARD_RESYNC_MS: '60000', NODEWARD_LOG_LEVEL: process.env['SCALE_OPERATOR_LOG_LEVEL'] ?? 'warn', ...PRODUCTION_LEASE };
  const b = await startBenchStack({
    // Each poll LISTs every NodeAttestation: at 10,000 that is ~90 MB of JSON for the API server to serialise.
    interval: `${o.intervalS}s`, poll: { everyMs: n > 5000 ? 30_000 : n > 2000 ? 10_000 : 3000, phases: true }, operatorEnv,
    before: async (stack) => { ({ fleet, ekCaPem } = await startSoftFleet(stack, n, o.ak, progress)); await configure(stack, ekCaPem); },
  });
  try {
    const ops = await startReplicas(b, replicas, operatorEnv);
    const t0 = Date.now();
    const sizes = await mapLimit(Array.from({ length: n }, (_, i) => i), 48, (i) => createRealisticNode(b, `soft-${i}`, fleetIp(i)));
    const nodeJsonBytes = Math.round(sizes.reduce((t, x) => t + x, 0) / n);
    progress(`${n} Node objects (${nodeJsonBytes} bytes of JSON each, managedFields included) after ${Date.now() - t0} ms; ${replicas} replica(s)`);
    const trustedNodes = (v: ClusterView): number => [...v.phase.values()].filter((p) => p === 'Trusted').length;
    const enrolled = await b.poller.until(`${n} Trusted`, (v) => trustedNodes(v) >= n, o.enrollTimeoutS * 1000).then(() => n, () => trustedNodes(b.poller.latest));
    const enrolS = (Date.now() - t0) / 1000;
    if (enrolled < n) progress(`enrollment deadline (${o.enrollTimeoutS} s): ${enrolled} of ${n} Trusted; measuring the window anyway`);
    // The poller's LIST of every NodeAttestation (every few seconds) is the bench's load, not the operator's.
    await b.poller.stop();
    progress(`${enrolled} of ${n} Trusted after ${enrolS} s; settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    const m0 = await Promise.all(ops.map((op) => scrape(op.httpPort)));
    const a0 = apiServerWrites(await apiServerMetrics(b.stack.harness.kubeConfig));
    const c0 = cpuByProcess(b, ops, fleet);
    const r0 = ops.map((op) => cpuSeconds(op.pid()!));
    const w0 = Date.now();
    const q0 = await fleet!.quotes();
    await sleep(o.windowS * 1000);
    const m1 = await Promise.all(ops.map((op) => scrape(op.httpPort)));
    const a1 = apiServerWrites(await apiServerMetrics(b.stack.harness.kubeConfig));
    const c1 = cpuByProcess(b, ops, fleet);
    const q1 = await fleet!.quotes();
    const wall = (Date.now() - w0) / 1000;
    const perReplica = ops.map((op, i) => ({
      identity: op.identity, leader: sum(m1[i]!, 'nodeward_leader') === 1, owned: sum(m1[i]!, 'nodeward_owned_nodes'), rssMiB: rssMiB(op.pid()!), peakMiB: rssMiB(op.pid()!, 'VmHWM'),
      cpuCores: (cpuSeconds(op.pid()!) - r0[i]!) / wall,
    }));
    const delta = (name: string, match = ''): number => sumAll(m1, name, match) - sumAll(m0, name, match);
    const rounds = delta('nodeward_rounds_total');
    const trusted = delta('nodeward_rounds_total', 'result="trusted"');
    const opCpu = c1['operator']! - c0['operator']!;
    const writes = delta('nodeward_api_writes_total');
    // The replicas' buckets added bound by bound (same bounds in every replica).
    const lag = m1.map((m, i) => bucketDelta(m0[i]!, m, 'nodeward_round_queue_lag_seconds'))
      .reduce((acc, x) => x.map((b, j) => ({ le: b.le, count: b.count + (acc[j]?.count ?? 0) })));
    const lagMean = delta('nodeward_round_queue_lag_seconds_sum') / delta('nodeward_round_queue_lag_seconds_count');
    const apiWritesPerMin = ((a1.all - a0.all) / wall) * 60;
    const leaseWritesPerMin = ((a1.leases - a0.leases) / wall) * 60;
    const perNode5 = ((apiWritesPerMin - leaseWritesPerMin) * 5) / n;
    const redis = await redisUsedMiB(b.stack.harness.redisUrl);
    const writesPerMin = (writes / wall) * 60;
    const due = n / o.intervalS;
    const byResource = [...new Set(m1.flatMap((m) => [...m.keys()]))].filter((k) => k.startsWith('nodeward_api_writes_total{'))
      .map((k) => ({ k: /verb="([^"]+)",resource="([^"]+)"/.exec(k)?.slice(1).join(' ') ?? k, d: m1.reduce((t, m, i) => t + (m.get(k) ?? 0) - (m0[i]!.get(k) ?? 0), 0) }))
      .filter((x) => x.d > 0).map((x) => `${x.k} ${fmt(x.d)}`).join(', ');
    const cpuSplit = Object.keys(c1).map((k) => `${k} ${fmt((c1[k]! - (c0[k] ?? 0)) / wall, 2)}`).join(', ');
    const peak = Math.max(...perReplica.map((r) => r.peakMiB));
    const markdown = [
      `### ${fmt(n)} nodes, ${replicas} replica${replicas === 1 ? '' : 's'}, interval ${o.intervalS} s (due: ${fmt(due)} rounds/s)`, '',
      `Node objects: realisticNode (50 images, 5 conditions, ${fmt(17 + 1)} labels, 7 annotations), ${fmt(nodeJsonBytes)} bytes of JSON each as the API server returns them (managedFields included).`, '',
      `${enrolled === n ? `All ${fmt(n)}` : `**Only ${fmt(enrolled)} of ${fmt(n)}**`} enrolled (Trusted) ${fmt(enrolS, 1)} s after their Node objects began to be created (${fmt(enrolled / enrolS, 1)} nodes/s${enrolled === n ? '' : '; the enrollment deadline passed and the rest kept enrolling during the window'}); ${SETTLE_S} s settle; steady-state window ${fmt(wall, 0)} s (the bench's own NodeAttestation polling stopped).`, '',
      table(['metric', 'value', 'target'], [
        ['attestation rounds/s (all results, all replicas)', `${fmt(rounds / wall, 1)} (${fmt(trusted / wall, 1)} trusted): ${fmt((100 * rounds) / (due * wall), 2)} % of due`, `${fmt(due)} due; ≥ 99.9 %: ${met(rounds >= 0.999 * due * wall)}`],
        ['operator CPU (all replicas)', `${fmt(opCpu / wall, 2)} cores`, ''],
        ['rounds per operator CPU-second', fmt(rounds / opCpu, 0), ''],
        ['queue lag mean / p50 ≤ / p99 ≤ (bucket bounds)', `${fmt(lagMean, 3)} s / ${fmt(bucketQuantile(lag, 0.5), 2)} s / ${fmt(bucketQuantile(lag, 0.99), 2)} s`, ''],
        ...perReplica.map((r) => [`replica ${r.identity}${r.leader ? ' (leader)' : ''}: owned nodes / RSS end / peak / CPU`, `${fmt(r.owned)} / ${fmt(r.rssMiB, 0)} MiB / ${fmt(r.peakMiB, 0)} MiB / ${fmt(r.cpuCores, 2)} cores`, `peak ≤ 384 MiB: ${met(r.peakMiB <= 384)}`]),
        ['owned nodes, all replicas', fmt(perReplica.reduce((t, r) => t + r.owned, 0)), `= ${fmt(n)}: ${met(perReplica.reduce((t, r) => t + r.owned, 0) === n)}`],
        ['Redis used_memory', `${fmt(redis, 1)} MiB`, ''],
        ['Kubernetes API writes/min, API server count (all clients)', `${fmt(apiWritesPerMin, 1)}, of which Lease renewals ${fmt(leaseWritesPerMin, 1)}; the rest ${fmt(perNode5, 3)} per node per 5 min`, `≤ 1 per node per 5 min: ${met(perNode5 <= 1)}`],
        ['Kubernetes API writes/min, operator count (nodeward_api_writes_total)', `${fmt(writesPerMin, 1)} (${fmt((writesPerMin * 5) / n, 3)} per node per 5 min)`, ''],
        ['quotes served by the fleet/s', fmt((q1 - q0) / wall, 1), ''],
      ]),
      `Operator writes in the window by verb and resource: ${byResource === '' ? 'none' : byResource}.`, '',
      `CPU in the window (cores): ${cpuSplit}. Fleet AKs: ${o.ak === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048 (RSASSA)'}. Peak RSS of the largest replica: ${fmt(peak, 0)} MiB.`, '',
    ];
    return { nodes: n, replicas, markdown, roundsPerS: rounds / wall, dueRoundsPerS: due, roundsPerCoreS: rounds / opCpu, perNode5, redisMiB: redis, opCpuPerRound: opCpu / rounds, perReplica, nodeJsonBytes };
  } finally {
    await b.stop();
    await fleet?.close();
  }
}

/** One table over every run: the replicas side by side. */
function summary(rows: readonly ScaleRow[], o: ScaleOptions): string {
  return table(['nodes', 'replicas', 'rounds run / due', 'API writes per node per 5 min', 'owned nodes per replica', 'peak RSS per replica (MiB)', 'RSS end per replica (MiB)', 'operator CPU (cores)', 'Redis (MiB)'],
    rows.map((r) => [fmt(r.nodes), String(r.replicas), `${fmt((100 * r.roundsPerS) / r.dueRoundsPerS, 2)} %`, fmt(r.perNode5, 3),
      r.perReplica.map((x) => fmt(x.owned)).join(' / '), r.perReplica.map((x) => fmt(x.peakMiB, 0)).join(' / '),
      r.perReplica.map((x) => fmt(x.rssMiB, 0)).join(' / '), fmt(r.roundsPerS * r.opCpuPerRound, 2), fmt(r.redisMiB, 1)]))
    + `\nInterval ${o.intervalS} s; targets: rounds ≥ 99.9 % of due, ≤ 1 API write per node per 5 min, every replica ≤ 384 MiB.\n`;
}

/** Solves the 3×3 system m·x = v (Cramer's rule); undefined when singular. */
function solve3(m: number[][], v: number[]): number[] | undefined {
  const det = (a: number[][]): number => a[0]![0]! * (a[1]![1]! * a[2]![2]! - a[1]![2]! * a[2]![1]!) - a[0]![1]! * (a[1]![0]! * a[2]![2]! - a[1]![2]! * a[2]![0]!) + a[0]![2]! * (a[1]![0]! * a[2]![1]! - a[1]![1]! * a[2]![0]!);
  const d = det(m);
  if (Math.abs(d) < 1e-9) return undefined;
  return [0, 1, 2].map((c) => det(m.map((row, r) => row.map((x, k) => (k === c ? v[r]! : x)))) / d);
}

/**
 * Per-node costs. Memory: end-of-window RSS of every replica of every run fitted (least squares) as
 * base + per fleet node × fleet + per owned node × owned. With a single fleet size the two per-node
 * terms cannot be told apart from the base, and the fleet term is taken as 0 (said in the output).
 * CPU per round: the costliest run's; Redis and API writes: the mean over the largest fleet's runs.
 */
function costsFrom(rows: readonly ScaleRow[]): (MeasuredCosts & { fleetTermFitted: boolean }) | undefined {
  const pts = rows.flatMap((r) => r.perReplica.map((x) => [1, r.nodes, x.owned, x.rssMiB] as const));
  const ata = [0, 1, 2].map((i) => [0, 1, 2].map((j) => pts.reduce((t, p) => t + p[i]! * p[j]!, 0)));
  const atb = [0, 1, 2].map((i) => pts.reduce((t, p) => t + p[i]! * p[3], 0));
  const fitted = new Set(rows.map((r) => r.nodes)).size > 1 ? solve3(ata, atb) : undefined;
  const two = (): number[] | undefined => {
    const mx = pts.reduce((t, p) => t + p[2], 0) / pts.length;
    const my = pts.reduce((t, p) => t + p[3], 0) / pts.length;
    const sxx = pts.reduce((t, p) => t + (p[2] - mx) ** 2, 0);
    if (sxx === 0) return undefined;
    const b = pts.reduce((t, p) => t + (p[2] - mx) * (p[3] - my), 0) / sxx;
    return [my - b * mx, 0, b];
  };
  const [base, perFleet, perOwned] = fitted ?? two() ?? [];
  if (base === undefined || perFleet === undefined || perOwned === undefined) return undefined;
  const n = Math.max(...rows.map((r) => r.nodes));
  const at = rows.filter((r) => r.nodes === n);
  const mean = (f: (r: ScaleRow) => number): number => at.reduce((t, r) => t + f(r), 0) / at.length;
  return {
    baseMiB: base, perNodeMiB: perOwned, perFleetNodeMiB: perFleet, fleetTermFitted: fitted !== undefined,
    cpuPerRound: Math.max(...rows.map((r) => r.opCpuPerRound)),
    redisBaseMiB: 1, redisPerNodeMiB: Math.max(0, mean((r) => r.redisMiB) - 1) / n, writesPerNodePer5Min: mean((r) => r.perNode5),
  };
}

function projection(rows: readonly ScaleRow[]): string {
  const c = costsFrom(rows);
  if (c === undefined || !(c.perNodeMiB > 0) || c.baseMiB >= 384) return 'Projection: the runs do not give positive per-node costs under the cap (run --replicas 1,3, and two --nodes counts to separate the per-fleet-node caches).\n';
  const p = project(c, 65_000, 30, { memoryCapMiB: 384, coresPerReplicaCap: 1, imbalance: 1.1 });
  const fleetTerm = c.fleetTermFitted ? `${fmt(c.perFleetNodeMiB * 1024, 1)} KiB per node of the fleet (every replica caches every Node and NodeAttestation)`
    : 'the per-fleet-node cache cost not separated (one fleet size: it is inside the base)';
  return [
    '### Projection (not measured): 65,000 nodes at a 30 s interval', '',
    `From the measured costs above: replica RSS ${fmt(c.baseMiB, 0)} MiB + ${fmt(c.perNodeMiB * 1024, 1)} KiB per owned node + ${fleetTerm} (least squares over every replica's end-of-window RSS), ${fmt(c.cpuPerRound * 1000, 3)} ms of operator CPU per round (the costlier run, all replicas' CPU over all rounds), Redis ${fmt(c.redisPerNodeMiB * 1024, 2)} KiB per node, ${fmt(c.writesPerNodePer5Min, 3)} API writes per node per 5 min. Each replica sized for 1.1× its even share (shards spread nodes unevenly) and at most 384 MiB and one core.`, '',
    table(['nodes', 'interval', 'replicas', 'rounds/s', 'operator cores (all)', 'cores per replica', 'memory per replica', 'Redis memory', 'API writes/s'],
      [[fmt(p.nodes), `${p.intervalS} s`, Number.isFinite(p.replicas) ? String(p.replicas) : 'none fits 384 MiB', fmt(p.roundsPerS, 0), fmt(p.cores, 2), Number.isFinite(p.replicas) ? fmt(p.coresPerReplica, 2) : '', `${fmt(p.memoryPerReplicaMiB, 0)} MiB${Number.isFinite(p.replicas) ? '' : ' before any owned node'}`, `${fmt(p.redisMiB, 0)} MiB`, fmt(p.apiWritesPerS, 0)]]),
  ].join('\n');
}

export async function scaleBench(o: ScaleOptions, progress: (s: string) => void): Promise<string> {
  const rows: ScaleRow[] = [];
  const failures: string[] = [];
  for (const n of o.nodeCounts) {
    for (const r of o.replicas) {
      try {
        rows.push(await runOne(n, r, o, progress));
      } catch (e) {
        failures.push(`${fmt(n)} nodes, ${r} replicas: did not complete: ${e instanceof Error ? e.message : String(e)}`);
        progress(failures[failures.length - 1]!);
      }
    }
  }
  for (const r of rows.filter((x) => x.replicas === 1)) await recordPoint({ nodes: r.nodes, roundsPerS: r.roundsPerS, dueRoundsPerS: r.dueRoundsPerS, roundsPerCoreS: r.roundsPerCoreS, at: new Date().toISOString() });
  const png = await scalePlot();
  return [`Machine: ${machine()}`, '', summary(rows, o), ...rows.flatMap((r) => r.markdown), ...failures, '', projection(rows), '',
    `Plot (sustained rounds/s by node count, one replica, every node count's latest run in scale-points.json): ${png}`, ''].join('\n');
}
