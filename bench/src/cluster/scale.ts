import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createRuntimePolicy, parseImaBinaryLog } from '@nodeward/attest';
import { encodeImaNgEntry } from '@nodeward/attest/testing';
import { createSimulatedNode } from '@nodeward/e2e/harness/simulated-node';
import { AGENT_PORT, configMap, KNOWN_GOOD_FILES, RUNTIME_POLICY_CONFIGMAP, TRUST_ANCHORS_CONFIGMAP, type Stack } from '@nodeward/e2e/stack/index';
import type { SoftAk } from '@nodeward/e2e/sim/soft-tpm';
import { createHash } from 'node:crypto';
import { mapLimit, SELECTOR_LABEL, startBenchStack, type BenchStack } from './bench-stack.js';
import type { ClusterView } from './cluster-poller.js';
import { createIssuer } from './fleet-pki.js';
import { startFleet, type Fleet } from './fleet-procs.js';
import { fleetIp, issuerPem, type FleetSpec } from './fleet-range.js';
import { barsPng, resultsDir } from './plots.js';
import { bucketDelta, bucketQuantile, parseExposition, scrape, sum, type Samples } from './prom.js';
import { cpuSeconds, fmt, machine, met, rssMiB, table } from './stats.js';

/**
 * Scale: N soft agents (one process, one mTLS listener per 127.0.x.y) with Node objects, one operator
 * process, the policy at `intervalS`. After every node is Trusted and a settle period, a steady-state
 * window measures rounds/s, operator CPU, queue lag, RSS, Redis memory and API writes.
 */

export interface ScaleOptions {
  nodeCounts: number[]; intervalS: number; windowS: number; ak: SoftAk['scheme'];
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

/** CPU seconds of each harness child (by command name), of this process (driver, and the fleet unless split) and of the fleet's processes. */
function cpuByProcess(b: BenchStack, fleet: Fleet | undefined): Record<string, number> {
  const children = fleet?.childPids() ?? [];
  const out: Record<string, number> = children.length === 0
    ? { 'fleet + bench driver': cpuSeconds(process.pid) }
    : { 'bench driver': cpuSeconds(process.pid), fleet: children.reduce((t, pid) => t + cpuSeconds(pid), 0) };
  out['operator'] = cpuSeconds(b.operator.pid()!);
  for (const pid of b.stack.harness.pids()) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      out[comm] = (out[comm] ?? 0) + cpuSeconds(pid);
    } catch { /* exited */ }
  }
  return out;
}

interface ScaleRow { nodes: number; markdown: string[]; roundsPerS: number; dueRoundsPerS: number; roundsPerCoreS: number }

async function runOne(n: number, o: ScaleOptions, progress: (s: string) => void): Promise<ScaleRow> {
  let fleet: Fleet | undefined;
  let ekCaPem = '';
  const b = await startBenchStack({
    // Each poll LISTs every NodeAttestation: at 10,000 that is ~90 MB of JSON for the API server to serialise.
    interval: `${o.intervalS}s`, poll: { everyMs: n > 5000 ? 30_000 : n > 2000 ? 10_000 : 3000, phases: true },
    operatorEnv: { NODEWARD_RESYNC_MS: '60000', NODEWARD_LOG_LEVEL: process.env['SCALE_OPERATOR_LOG_LEVEL'] ?? 'warn' },
    before: async (stack) => { ({ fleet, ekCaPem } = await startSoftFleet(stack, n, o.ak, progress)); await configure(stack, ekCaPem); },
  });
  try {
    const t0 = Date.now();
    await mapLimit(Array.from({ length: n }, (_, i) => i), 48, (i) =>
      createSimulatedNode(b.stack.harness, `soft-${i}`, { ip: fleetIp(i), labels: { [SELECTOR_LABEL]: 'true' } }));
    progress(`${n} Node objects after ${Date.now() - t0} ms`);
    const trustedNodes = (v: ClusterView): number => [...v.phase.values()].filter((p) => p === 'Trusted').length;
    const enrolled = await b.poller.until(`${n} Trusted`, (v) => trustedNodes(v) >= n, o.enrollTimeoutS * 1000).then(() => n, () => trustedNodes(b.poller.latest));
    const enrolS = (Date.now() - t0) / 1000;
    if (enrolled < n) progress(`enrollment deadline (${o.enrollTimeoutS} s): ${enrolled} of ${n} Trusted; measuring the window anyway`);
    // The poller's LIST of every NodeAttestation (every few seconds) is the bench's load, not the operator's.
    await b.poller.stop();
    progress(`${enrolled} of ${n} Trusted after ${enrolS} s; settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    const port = b.operator.httpPort;
    const m0 = await scrape(port);
    const a0 = apiServerWrites(await apiServerMetrics(b.stack.harness.kubeConfig));
    const c0 = cpuByProcess(b, fleet);
    const w0 = Date.now();
    const q0 = await fleet!.quotes();
    await sleep(o.windowS * 1000);
    const m1 = await scrape(port);
    const a1 = apiServerWrites(await apiServerMetrics(b.stack.harness.kubeConfig));
    const c1 = cpuByProcess(b, fleet);
    const q1 = await fleet!.quotes();
    const wall = (Date.now() - w0) / 1000;
    const rounds = sum(m1, 'nodeward_rounds_total') - sum(m0, 'nodeward_rounds_total');
    const trusted = sum(m1, 'nodeward_rounds_total', 'result="trusted"') - sum(m0, 'nodeward_rounds_total', 'result="trusted"');
    const opCpu = c1['operator']! - c0['operator']!;
    const writes = sum(m1, 'nodeward_api_writes_total') - sum(m0, 'nodeward_api_writes_total');
    const lag = bucketDelta(m0, m1, 'nodeward_round_queue_lag_seconds');
    const lagCount = sum(m1, 'nodeward_round_queue_lag_seconds_count') - sum(m0, 'nodeward_round_queue_lag_seconds_count');
    const lagMean = (sum(m1, 'nodeward_round_queue_lag_seconds_sum') - sum(m0, 'nodeward_round_queue_lag_seconds_sum')) / lagCount;
    const rss = rssMiB(b.operator.pid()!);
    const rssPeak = rssMiB(b.operator.pid()!, 'VmHWM');
    const apiWritesPerMin = ((a1.all - a0.all) / wall) * 60;
    const leaseWritesPerMin = ((a1.leases - a0.leases) / wall) * 60;
    const perNode5 = ((apiWritesPerMin - leaseWritesPerMin) * 5) / n;
    const redis = await redisUsedMiB(b.stack.harness.redisUrl);
    const writesPerMin = (writes / wall) * 60;
    const due = n / o.intervalS;
    const byResource = [...m1.keys()].filter((k) => k.startsWith('nodeward_api_writes_total{'))
      .map((k) => ({ k: /verb="([^"]+)",resource="([^"]+)"/.exec(k)?.slice(1).join(' ') ?? k, d: (m1.get(k) ?? 0) - (m0.get(k) ?? 0) }))
      .filter((x) => x.d > 0).map((x) => `${x.k} ${fmt(x.d)}`).join(', ');
    const cpuSplit = Object.keys(c1).map((k) => `${k} ${fmt((c1[k]! - (c0[k] ?? 0)) / wall, 2)}`).join(', ');
    const markdown = [
      `### ${fmt(n)} nodes, interval ${o.intervalS} s (due: ${fmt(due)} rounds/s)`, '',
      `${enrolled === n ? `All ${fmt(n)}` : `**Only ${fmt(enrolled)} of ${fmt(n)}**`} enrolled (Trusted) ${fmt(enrolS, 1)} s after their Node objects began to be created (${fmt(enrolled / enrolS, 1)} nodes/s${enrolled === n ? '' : '; the enrollment deadline passed and the rest kept enrolling during the window'}); ${SETTLE_S} s settle; steady-state window ${fmt(wall, 0)} s (the bench's own NodeAttestation polling stopped).`, '',
      table(['metric', 'value', 'target'], [
        ['attestation rounds/s (all results)', `${fmt(rounds / wall, 1)} (${fmt(trusted / wall, 1)} trusted)`, `${fmt(due)} due`],
        ['operator CPU', `${fmt(opCpu / wall, 2)} cores`, ''],
        ['rounds per operator CPU-second', fmt(rounds / opCpu, 0), `1,000 on one core: ${met(rounds / opCpu >= 1000)}`],
        ['queue lag mean / p50 ≤ / p99 ≤ (bucket bounds)', `${fmt(lagMean, 3)} s / ${fmt(bucketQuantile(lag, 0.5), 2)} s / ${fmt(bucketQuantile(lag, 0.99), 2)} s`, ''],
        ['operator RSS (end of window / peak since start)', `${fmt(rss, 0)} MiB / ${fmt(rssPeak, 0)} MiB`, n >= 10_000 ? `≤ 512 MB at 10,000: ${met(rssPeak * 1.048576 <= 512)}` : '≤ 512 MB at 10,000 (n/a)'],
        ['operator V8 heap used / heap total / external (end of window)', ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']
          .map((k) => `${fmt(sum(m1, `nodeward_process_${k}`) / 2 ** 20, 0)} MiB`).join(' / '), ''],
        ['Redis used_memory', `${fmt(redis, 1)} MiB`, ''],
        ['Kubernetes API writes/min, API server count (all clients)', `${fmt(apiWritesPerMin, 1)}, of which Lease renewals ${fmt(leaseWritesPerMin, 1)}; the rest ${fmt(perNode5, 3)} per node per 5 min`, `≤ 1 per node per 5 min: ${met(perNode5 <= 1)}`],
        ['Kubernetes API writes/min, operator count (nodeward_api_writes_total)', `${fmt(writesPerMin, 1)} (${fmt((writesPerMin * 5) / n, 3)} per node per 5 min)`, ''],
        ['quotes served by the fleet/s', fmt((q1 - q0) / wall, 1), ''],
      ]),
      `Operator writes in the window by verb and resource: ${byResource === '' ? 'none' : byResource}.`, '',
      `CPU in the window (cores): ${cpuSplit}. Fleet AKs: ${o.ak === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048 (RSASSA)'}.`, '',
    ];
    return { nodes: n, markdown, roundsPerS: rounds / wall, dueRoundsPerS: due, roundsPerCoreS: rounds / opCpu };
  } finally {
    await b.stop();
    await fleet?.close();
  }
}

export async function scaleBench(o: ScaleOptions, progress: (s: string) => void): Promise<string> {
  const rows: ScaleRow[] = [];
  const failures: string[] = [];
  for (const n of o.nodeCounts) {
    try {
      rows.push(await runOne(n, o, progress));
    } catch (e) {
      failures.push(`${fmt(n)} nodes: did not complete: ${e instanceof Error ? e.message : String(e)}`);
      progress(failures[failures.length - 1]!);
    }
  }
  for (const r of rows) await recordPoint({ nodes: r.nodes, roundsPerS: r.roundsPerS, dueRoundsPerS: r.dueRoundsPerS, roundsPerCoreS: r.roundsPerCoreS, at: new Date().toISOString() });
  const png = await scalePlot();
  return [`Machine: ${machine()}`, '', ...rows.flatMap((r) => r.markdown), ...failures, '', `Plot (sustained rounds/s by node count, every node count's latest run in scale-points.json): ${png}`, ''].join('\n');
}
