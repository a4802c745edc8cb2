// @peculiar/x509 (through @nodeward/attest) needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { HttpsAgentClient } from '@nodeward/operator';
import { rssMiB } from './stats.js';

/**
 * The operator's agent client alone in a process (connections.ts): rounds of GET /v1/verity to every
 * agent URL, reporting the process's RSS, malloc heap ([heap] in smaps), V8 heap and CPU per request.
 */
interface Task { urls: string[]; rounds: number; maxIdleConnections: number | null; cert: string; key: string; ca: string }

/** Resident KiB of the brk heap (glibc malloc's main arena: OpenSSL and Node's native allocations). */
function mallocHeapKib(): number {
  let inHeap = false;
  let kib = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.endsWith('[heap]');
    else if (inHeap && line.startsWith('Rss:')) kib += Number(line.split(/\s+/)[1]);
  }
  return kib;
}

const settle = async (): Promise<void> => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 300));
  (globalThis as { gc?: () => void }).gc?.();
};

process.once('message', (t: Task) => {
  void (async () => {
    const client = new HttpsAgentClient({ cert: t.cert, key: t.key, ca: t.ca, ...(t.maxIdleConnections === null ? {} : { maxIdleConnections: t.maxIdleConnections }) });
    const round = async (): Promise<void> => {
      for (let i = 0; i < t.urls.length; i += 64) await Promise.all(t.urls.slice(i, i + 64).map((u) => client.verity(u)));
    };
    await settle();
    const before = { rss: rssMiB(process.pid), malloc: mallocHeapKib(), v8: process.memoryUsage().heapUsed };
    await round(); // the first round pays every full handshake
    const cpu0 = process.cpuUsage();
    for (let r = 1; r < t.rounds; r++) await round();
    const cpu = process.cpuUsage(cpu0);
    await settle();
    const after = { rss: rssMiB(process.pid), malloc: mallocHeapKib(), v8: process.memoryUsage().heapUsed };
    process.send!({
      rssKibPerAgent: (after.rss - before.rss) * 1024 / t.urls.length,
      mallocKibPerAgent: (after.malloc - before.malloc) / t.urls.length,
      v8KibPerAgent: (after.v8 - before.v8) / 1024 / t.urls.length,
      cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / ((t.rounds - 1) * t.urls.length),
      idle: client.idleConnections,
    }, () => process.exit(0));
  })().catch((e: unknown) => {
    process.stderr.write(`connections child failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
});
