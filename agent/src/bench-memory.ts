#!/usr/bin/env node
/**
 * Memory check for benchmarking: sends N quote requests over mTLS to one running agent and prints
 * the agent's RSS (from /proc/<pid>/status) before and after. Prints, asserts nothing.
 *   node agent/dist/bench-memory.js --url https://127.0.1.2:9443 --pid <agent pid> \
 *     --ca agent-ca.crt --cert operator.crt --key operator.key [--count 10000] [--concurrency 4]
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { agentHttpsAgent, agentRequest } from './agent-client.js';

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

async function rssKib(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Math.round(process.memoryUsage().rss / 1024);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: {
    url: { type: 'string' }, pid: { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
    count: { type: 'string' }, concurrency: { type: 'string' },
  } });
  if (!v.url || !v.ca || !v.cert || !v.key) throw new Error('--url, --ca, --cert and --key are required');
  const count = Number(v.count ?? 10_000);
  const pid = v.pid === undefined ? undefined : Number(v.pid);
  const client = agentHttpsAgent({ caPem: await readFile(v.ca, 'utf8'), certPem: await readFile(v.cert, 'utf8'), keyPem: await readFile(v.key, 'utf8') });
  const before = await rssKib(pid);
  const t0 = performance.now();
  let sent = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const r = await agentRequest(v.url!, { method: 'POST', path: '/v1/quote', agent: client,
        body: { nonce: randomBytes(32).toString('hex'), pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 10] } } });
      if (r.status !== 200) failed++;
      if (sent % 1000 === 0) process.stdout.write(`  ${sent} quotes, rss ${mib(await rssKib(pid))}\n`);
    }
  };
  await Promise.all(Array.from({ length: Number(v.concurrency ?? 4) }, worker));
  const secs = (performance.now() - t0) / 1000;
  const after = await rssKib(pid);
  client.destroy();
  process.stdout.write(`${count} quotes (${failed} failed) in ${secs.toFixed(1)} s (${(count / secs).toFixed(1)}/s)\n`);
  process.stdout.write(`${pid === undefined ? 'this process' : `agent pid ${pid}`}: rss before ${mib(before)}, after ${mib(after)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench-memory failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
