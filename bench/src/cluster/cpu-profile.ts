import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { label, parseExposition, type Samples } from './prom.js';
import { fmt, table } from './stats.js';

/**
 * Where a window's CPU and API writes went, from two snapshots: CPU seconds per process kind (every
 * process's /proc/<pid>/stat), processes forked machine-wide (/proc/stat `processes`), and the API
 * server's mutating requests by resource and verb. Short-lived children (tpm2-tools, which the agents
 * in this process spawn) are counted through this process's cutime + cstime once reaped.
 */

export interface CpuSnapshot {
  /** Per process alive now (pid and start time, so a reused pid is another process): its kind and CPU seconds so far. */
  cpu: Map<string, { kind: string; seconds: number }>;
  forks: number;
  api: Samples;
}

const CLOCK_TICKS = 100;
const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'];

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The kind a process is counted under: its comm, with node processes told apart by what they run. */
function kindOf(pid: number, comm: string): string {
  if (pid === process.pid) return 'bench process (agents in-process, poller)';
  if (comm.startsWith('tpm2_')) return 'tpm2-tools (alive at the snapshot)';
  // A kernel worker's comm names the workqueue it last ran (kworker/0:1-events, later -mm_percpu_wq).
  if (comm.startsWith('kworker/')) return 'kernel workers (kworker)';
  if (comm !== 'node' && comm !== 'MainThread') return comm;
  const cmd = read(`/proc/${pid}/cmdline`)?.split('\0').join(' ') ?? '';
  if (cmd.includes('operator/dist/main.js')) return 'operator';
  return 'other node processes';
}

const REAPED = 'reaped children of the bench process (tpm2-tools, swtpm_setup)';

function cpuByProcess(): CpuSnapshot['cpu'] {
  const out: CpuSnapshot['cpu'] = new Map();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields from the 3rd (state) on: utime, stime, cutime, cstime are the 14th-17th, starttime the 22nd.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${pid}@${f[19]}`, { kind: kindOf(pid, comm), seconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS });
    if (pid === process.pid) out.set(REAPED, { kind: REAPED, seconds: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS });
  }
  return out;
}

/**
 * CPU seconds per kind between two snapshots, process by process: one born in the window counts
 * from zero; one that ended in it is missing from both (reaped children of this process apart).
 */
export function cpuDeltaByKind(a: CpuSnapshot['cpu'], b: CpuSnapshot['cpu']): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, { kind, seconds }] of b) out.set(kind, (out.get(kind) ?? 0) + seconds - (a.get(key)?.seconds ?? 0));
  return out;
}

/** The API server's own /metrics (every client's requests). */
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

export async function snapshot(kc: KubeConfig): Promise<CpuSnapshot> {
  const api = await apiServerMetrics(kc);
  const forks = Number(/^processes (\d+)$/m.exec(read('/proc/stat') ?? '')?.[1] ?? Number.NaN);
  return { cpu: cpuByProcess(), forks, api };
}

/** A request counter's `verb resource[/subresource]` when it counts writes (or reads), else undefined. */
function requestKind(key: string, writes: boolean): string | undefined {
  if (!key.startsWith('apiserver_request_total{')) return undefined;
  const verb = label(key, 'verb');
  if (WRITE_VERBS.includes(verb) !== writes) return undefined;
  const sub = label(key, 'subresource');
  return `${verb} ${label(key, 'resource')}${sub === '' ? '' : `/${sub}`}`;
}

/** API requests (writes, or reads) between two scrapes, by `verb resource[/subresource]`. */
function apiRequests(a: Samples, b: Samples, writes: boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, v] of b) {
    const k = requestKind(key, writes);
    const d = v - (a.get(key) ?? 0);
    if (k !== undefined && d > 0) out.set(k, (out.get(k) ?? 0) + d);
  }
  return out;
}

/** Markdown: CPU seconds per process kind (largest first), forks, and API writes per node by kind. */
export function profileReport(a: CpuSnapshot, b: CpuSnapshot, wallS: number, nodes: number): string {
  const cpu = [...cpuDeltaByKind(a.cpu, b.cpu)].filter(([, v]) => v >= 0.01).sort((x, y) => y[1] - x[1]);
  const total = cpu.reduce((t, [, v]) => t + v, 0);
  const writes = [...apiRequests(a.api, b.api, true)].sort((x, y) => y[1] - x[1]);
  const allWrites = writes.reduce((t, [, v]) => t + v, 0);
  const reads = [...apiRequests(a.api, b.api, false)].sort((x, y) => y[1] - x[1]);
  return [
    `CPU in the ${fmt(wallS, 1)} s window: ${fmt(total, 1)} CPU s (${fmt(total / wallS, 2)} cores busy); ${b.forks - a.forks} processes forked machine-wide.`, '',
    table(['process kind', 'CPU s', 'share'], cpu.map(([k, v]) => [k, fmt(v, 2), `${fmt((100 * v) / total, 0)} %`])),
    `API writes in the window: ${allWrites} (${fmt(allWrites / nodes, 1)} per node; the operator's and the bench's own label patches alike).`, '',
    table(['verb resource', 'writes', 'per node'], writes.map(([k, v]) => [k, String(v), fmt(v / nodes, 2)])),
    `API reads in the window (every client, the bench's own poller included): ${reads.map(([k, v]) => `${k} ${v}`).join(', ')}.`, '',
  ].join('\n');
}
