import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quotePcrsFromWire, verifyQuote, type IdentityResponse, type QuoteResponse } from '@nodeward/attest';
import { agentHttpsAgent, agentRequest } from '@nodeward/agent';
import { createMtlsPki, createSwtpmCa, prepareSimNode, type SimNode } from '@nodeward/e2e/sim';
import { rssMiB } from './cluster/stats.js';
import { fmt, met, table } from './timing.js';

/**
 * 4. One real agent (its own process) on a swtpm-backed simulated node, 10,000 POST /v1/quote over
 * mTLS at concurrency 4: the agent's RSS from /proc at start, every 1,000 quotes and at the end,
 * and the request latency percentiles.
 */

const COUNT = 10_000;
const CONCURRENCY = 4;
/** "Flat": the end RSS within this of the RSS after the first 1,000 quotes (warm-up done). */
const FLAT_BOUND_MIB = 10;
const IP = '127.0.9.77';
const SELECTION = { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 10] };

function startChild(config: object): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(fileURLToPath(new URL('./agent-child.js', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve({ child, url: m.url }));
    child.once('exit', (code) => reject(new Error(`the agent exited with ${code}`)));
    child.send(config);
  });
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function load(url: string, client: ReturnType<typeof agentHttpsAgent>, pid: number, akPublic: Buffer): Promise<{ rss: [number, number][]; latencies: number[]; failed: number }> {
  const rss: [number, number][] = [[0, rssMiB(pid)]];
  const latencies: number[] = [];
  let sent = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (sent < COUNT) {
      const n = ++sent;
      const nonce = randomBytes(32);
      const t0 = performance.now();
      const r = await agentRequest(url, { method: 'POST', path: '/v1/quote', agent: client, body: { nonce: nonce.toString('hex'), pcrSelection: SELECTION } });
      latencies.push(performance.now() - t0);
      if (r.status !== 200 || (n % 1000 === 1 && !quoteVerifies(r.json as QuoteResponse, akPublic, nonce))) failed++;
      if (n % 1000 === 0) {
        rss.push([n, rssMiB(pid)]);
        process.stderr.write(`  ${n} quotes, agent rss ${fmt(rss[rss.length - 1]![1], 1)} MiB\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { rss, latencies, failed };
}

function quoteVerifies(q: QuoteResponse, akPublic: Buffer, nonce: Buffer): boolean {
  return verifyQuote({ akPublic, quoted: Buffer.from(q.quoted, 'base64'), signature: Buffer.from(q.signature, 'base64'), nonce, pcrs: quotePcrsFromWire(q.pcrs) }).ok;
}

async function run(dir: string, node: SimNode): Promise<string> {
  const pki = await createMtlsPki(join(dir, 'pki'));
  const serving = await pki.agentServerCert(node.ip, node.name);
  const { child, url } = await startChild({ listen: { host: node.ip, port: 0 }, tcti: node.tcti, hostRoot: node.hostRoot,
    tls: { ...serving, clientCaPem: pki.operatorCa.certPem } });
  const client = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...pki.operatorClient });
  try {
    const id = (await agentRequest(url, { path: '/v1/identity', agent: client })).json as IdentityResponse;
    const t0 = performance.now();
    const r = await load(url, client, child.pid!, Buffer.from(id.akPublic, 'base64'));
    const seconds = (performance.now() - t0) / 1000;
    return report(r, seconds);
  } finally {
    client.destroy();
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

function report(r: { rss: [number, number][]; latencies: number[]; failed: number }, seconds: number): string {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const at = (n: number): number => r.rss.find(([k]) => k === n)![1];
  const drift = at(COUNT) - at(1000);
  return table(['quotes sent', 'agent RSS (MiB)'], r.rss.map(([n, mib]) => [fmt(n), fmt(mib, 1)]))
    + '\n' + table(['figure', 'value'], [
      ['quotes (failed)', `${fmt(COUNT)} (${r.failed})`],
      ['duration, throughput', `${fmt(seconds, 0)} s, ${fmt(COUNT / seconds, 1)} quotes/s`],
      ['latency p50 / p99 / max (ms)', `${fmt(percentile(sorted, 0.5), 1)} / ${fmt(percentile(sorted, 0.99), 1)} / ${fmt(sorted[sorted.length - 1]!, 1)}`],
      ['RSS start → 1,000 → end (MiB)', `${fmt(at(0), 1)} → ${fmt(at(1000), 1)} → ${fmt(at(COUNT), 1)}`],
      [`flat: end − after 1,000 within ±${FLAT_BOUND_MIB} MiB`, `${fmt(drift, 1)} MiB: ${met(Math.abs(drift) <= FLAT_BOUND_MIB)}`],
    ]) + `\nConcurrency ${CONCURRENCY}, sha256 PCRs 0-7,10, one swtpm (it serialises quotes); every 1,000th reply verified with verifyQuote.\n`;
}

export async function agentMemoryBench(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nw-bench-agent-'));
  let node: SimNode | undefined;
  try {
    const ca = await createSwtpmCa(join(dir, 'swtpm-ca'));
    node = await prepareSimNode({ name: 'bench-node', ip: IP, baseDir: dir, ca });
    return await run(dir, node);
  } finally {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
