import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMtlsPki } from '@nodeward/e2e/sim';

/**
 * What an idle agent connection costs the operator, and what closing it costs instead: the
 * operator's HttpsAgentClient (in its own process) makes rounds to `agents` mTLS agent listeners
 * on 127.0.0.1, once keeping every connection (the default) and once keeping none
 * (NODEWARD_AGENT_MAX_IDLE_CONNECTIONS=0: every round reconnects, resuming the TLS session), the
 * two interleaved `repeats` times. Per agent: process RSS, malloc heap and V8 heap held after the rounds, and
 * operator CPU per request. Prints Markdown; asserts no timing.
 */
export interface ConnectionsOptions { agents: number; rounds: number; repeats: number }
interface ChildResult { rssKibPerAgent: number; mallocKibPerAgent: number; v8KibPerAgent: number; cpuMsPerRequest: number; idle: number }

const VERITY = JSON.stringify({ devices: [{ name: 'root', rootHash: 'ab'.repeat(32), status: 'verified' }] });

export async function connectionsBench(o: ConnectionsOptions, progress: (s: string) => void): Promise<string> {
  // CPU is measured from the second round on, so one round measures nothing.
  for (const [name, v, min] of [['--nodes', o.agents, 1], ['--rounds', o.rounds, 2], ['--repeats', o.repeats, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`connections: ${name} must be an integer of at least ${min}, got ${v}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'nodeward-conn-'));
  const servers: Server[] = [];
  try {
    const pki = await createMtlsPki(join(dir, 'pki'));
    const serving = await pki.agentServerCert('127.0.0.1');
    for (let i = 0; i < o.agents; i++) {
      const s = createServer({ cert: serving.certPem, key: serving.keyPem, ca: pki.operatorCa.certPem, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 600_000 },
        (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(VERITY); });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
    }
    const urls = servers.map((s) => `https://127.0.0.1:${(s.address() as AddressInfo).port}`);
    progress(`${o.agents} agent listeners up`);
    const task = (maxIdleConnections: number | null) => ({ urls, rounds: o.rounds, maxIdleConnections, cert: pki.operatorClient.certPem, key: pki.operatorClient.keyPem, ca: pki.agentCa.certPem });
    const kept: ChildResult[] = [];
    const closed: ChildResult[] = [];
    for (let r = 0; r < o.repeats; r++) {
      kept.push(await runChild(task(null)));
      closed.push(await runChild(task(0)));
      progress(`repeat ${r + 1}/${o.repeats} done`);
    }
    const med = (xs: ChildResult[], f: (x: ChildResult) => number): number => xs.map(f).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const row = (name: string, xs: ChildResult[]): string =>
      `| ${name} | ${med(xs, (x) => x.idle)} | ${med(xs, (x) => x.rssKibPerAgent).toFixed(1)} | ${med(xs, (x) => x.mallocKibPerAgent).toFixed(1)} | ${med(xs, (x) => x.v8KibPerAgent).toFixed(1)} | ${med(xs, (x) => x.cpuMsPerRequest).toFixed(3)} |`;
    const ratio = (f: (x: ChildResult) => number): string => (med(kept, f) / med(closed, f)).toFixed(2);
    return [
      `### Agent connections: ${o.agents} mTLS agents, ${o.rounds} rounds, medians of ${o.repeats} interleaved repeats`, '',
      '| operator agent client | idle connections after | process RSS KiB per agent | malloc heap KiB per agent | V8 heap KiB per agent | operator CPU ms per request (rounds 2+) |',
      '| --- | --- | --- | --- | --- | --- |',
      row('every connection kept (default)', kept),
      row('none kept (NODEWARD_AGENT_MAX_IDLE_CONNECTIONS=0)', closed), '',
      `Kept ÷ closed: RSS ×${ratio((x) => x.rssKibPerAgent)}, malloc heap ×${ratio((x) => x.mallocKibPerAgent)}, CPU per request ×${ratio((x) => x.cpuMsPerRequest)}.`, '',
    ].join('\n');
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
    await rm(dir, { recursive: true, force: true });
  }
}

function runChild(task: object): Promise<ChildResult> {
  const child = fork(fileURLToPath(new URL('./connections-child.js', import.meta.url)), { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: ChildResult) => resolve(m));
    child.once('exit', (code) => reject(new Error(`the agent client process exited with ${code}`)));
    child.send(task);
  });
}
