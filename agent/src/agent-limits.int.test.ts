import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'node:https';
import { createMtlsPki, createSwtpmCa, prepareSimNode, type MtlsPki, type SimNode } from '@nodeward/e2e/sim';
import { startAgent, type RunningAgent } from './agent.js';
import { agentHttpsAgent, agentRequest } from './agent-client.js';
import { createLogger } from './log.js';
import { HANDSHAKE_TIMEOUT_MS, MAX_CONNECTIONS_PER_PEER } from './server/agent-server.js';

/**
 * The agent against hostile clients on loopback: a certificate from the operator's CA that names the
 * operator only in a SAN, 500 sockets that never send a ClientHello, and a flood of non-TLS
 * connections. The real operator client must still be served throughout.
 */
describe('agent connection limits (swtpm)', () => {
  let dir: string;
  let pki: MtlsPki;
  let node: SimNode;
  let agent: RunningAgent;
  let operator: Agent;
  const lines: { msg: string; suppressed?: number }[] = [];
  let setupLines = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-agent-limits-'));
    pki = await createMtlsPki(join(dir, 'pki'));
    node = await prepareSimNode({ name: 'limits', ip: '127.0.4.2', baseDir: dir, ca: await createSwtpmCa(join(dir, 'swtpm-ca')) });
    agent = await startAgent({
      listen: { host: node.ip, port: 0 }, tcti: node.tcti, hostRoot: node.hostRoot,
      tls: { ...(await pki.agentServerCert(node.ip, node.name)), clientCaPem: pki.operatorCa.certPem },
      logger: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as { msg: string }) }),
    });
    operator = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...pki.operatorClient });
    setupLines = lines.length;
  });
  afterAll(async () => {
    operator?.destroy();
    await agent?.close();
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const identityStatus = async (client: Agent): Promise<number> => (await agentRequest(agent.url, { path: '/v1/identity', agent: client })).status;

  it('accepts only the subject CN nodeward-operator: the same CA, another CN and the identity as a SAN is refused', async () => {
    const sanOnly = await pki.operatorCa.issue({ cn: 'node-a', usage: 'client', sans: ['nodeward-operator'] });
    const rogue = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...sanOnly });
    try {
      expect(await identityStatus(rogue)).toBe(403);
    } finally {
      rogue.destroy();
    }
    expect(await identityStatus(operator)).toBe(200);
  });

  const port = (): number => Number(new URL(agent.url).port);
  /** A raw TCP connection from `localAddress` that sends nothing (or `garbage`); resolves when open. */
  const open = (localAddress: string, garbage?: string): Promise<Socket> => new Promise((resolve) => {
    const s = connect({ host: node.ip, port: port(), localAddress }, () => { if (garbage !== undefined) s.write(garbage); resolve(s); });
    s.on('error', () => undefined);
    s.once('close', () => resolve(s));
  });
  const isClosed = (s: Socket): boolean => s.destroyed || s.readyState === 'closed';

  it('holds at most MAX_CONNECTIONS_PER_PEER silent sockets from one address, closes them after the handshake timeout, and still serves the operator', async () => {
    const t0 = Date.now();
    const silent = await Promise.all(Array.from({ length: 500 }, () => open('127.0.0.9')));
    await new Promise((r) => setTimeout(r, 500));
    expect(silent.filter((s) => !isClosed(s)).length).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_PEER);
    expect(await identityStatus(operator)).toBe(200);
    while (silent.some((s) => !isClosed(s)) && Date.now() - t0 < HANDSHAKE_TIMEOUT_MS + 4000) await new Promise((r) => setTimeout(r, 100));
    expect(silent.filter((s) => !isClosed(s))).toHaveLength(0);
    expect(Date.now() - t0).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 4000);
    expect(await identityStatus(operator)).toBe(200);
  }, 30_000);

  it('logs the floods in a bounded number of lines (one per kind per 10 s, the rest counted)', async () => {
    for (let batch = 0; batch < 30; batch++) {
      const sockets = await Promise.all(Array.from({ length: 10 }, () => open('127.0.0.10', 'GET / HTTP/1.1\r\n\r\n')));
      while (sockets.some((s) => !isClosed(s))) await new Promise((r) => setTimeout(r, 10));
    }
    // 500 silent sockets, 300 non-TLS connections and a forbidden client: a handful of lines in all.
    const flood = lines.slice(setupLines).filter((l) => l.msg !== 'request');
    expect(flood.map((l) => l.msg)).toContain('tls client rejected');
    expect(flood.length).toBeLessThanOrEqual(6);
    expect(await identityStatus(operator)).toBe(200);
  }, 30_000);
});
