import { readFileSync } from 'node:fs';
import { sleep } from '../harness/wait.js';
import type { OperatorProcess } from '../stack/operator-process.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';

/** GET /readyz: status and body. */
async function readyz(op: OperatorProcess): Promise<[number, string]> {
  const r = await fetch(`http://127.0.0.1:${op.httpPort}/readyz`);
  return [r.status, await r.text()];
}

/**
 * Redis stopped under a running operator (real redis-server, real operator process): no round can run,
 * so the operator is not ready; it is ready again once Redis is back. Meanwhile its output stays JSON
 * lines: no "[ioredis] Unhandled error event" text, and the connection errors of its Redis clients
 * (one every reconnect attempt) are logged once per 30 s, not once per attempt.
 */
describe('the operator while Redis is down', () => {
  let stack: Stack;
  let op: OperatorProcess;

  beforeAll(async () => {
    stack = await startStack();
    op = await stack.startOperator();
  }, 180_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it('is not ready while Redis is unreachable and ready again after, logging structured lines only', async () => {
    await waitFor('ready with Redis up', async () => (await readyz(op))[0] === 200, 60_000, 200);
    await stack.harness.stopRedis();
    await waitFor('not ready with Redis down', async () => (await readyz(op))[0] === 503, 15_000, 200);
    expect((await readyz(op))[1]).toMatch(/^not ready: redis (connecting|reconnecting|close)\n$/);
    // Several reconnect attempts of each client (ioredis backs off to 2 s).
    await sleep(8_000);
    expect((await readyz(op))[0]).toBe(503);
    await stack.harness.startRedis();
    await waitFor('ready again with Redis back', async () => (await readyz(op))[0] === 200, 30_000, 200);

    const lines = readFileSync(op.logFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const notJson = lines.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } });
    expect(notJson).toEqual([]);
    const entries = lines.map((l) => JSON.parse(l) as { level: string; msg: string; client?: string });
    const errors = entries.filter((e) => /redis (connection )?error/.test(e.msg));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.level === 'warn')).toBe(true);
    // At most one line per message in the outage (about 10 s, under the 30 s period).
    const perMessage = new Map<string, number>();
    for (const e of errors) perMessage.set(e.msg, (perMessage.get(e.msg) ?? 0) + 1);
    expect([...perMessage.values()].every((n) => n === 1)).toBe(true);
    expect(entries.some((e) => e.msg === 'redis connection lost')).toBe(true);
    expect(entries.some((e) => e.msg === 'redis connection restored')).toBe(true);
  }, 120_000);
});
