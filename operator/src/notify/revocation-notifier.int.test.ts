import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createRoundMetrics, type RoundMetrics } from '../round/round-metrics.js';
import { RevocationNotifier, revocationNotice, type RevocationNotice } from './revocation-notifier.js';

interface Hook { url: string; bodies: unknown[]; statuses: number[] }
const servers: http.Server[] = [];
const notifiers: RevocationNotifier[] = [];

afterEach(async () => {
  notifiers.splice(0).forEach((n) => n.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

/** A webhook answering with the given statuses in turn (the last one repeats); 0 = never answer. */
async function hook(statuses: number[], delayMs = 0): Promise<Hook> {
  const h: Hook = { url: '', bodies: [], statuses: [...statuses] };
  let i = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      h.bodies.push(JSON.parse(body));
      const status = statuses[Math.min(i++, statuses.length - 1)]!;
      if (status !== 0) setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  h.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return h;
}

function notifier(urls: string[], opts: Partial<ConstructorParameters<typeof RevocationNotifier>[0]> = {}): { n: RevocationNotifier; metrics: RoundMetrics } {
  const metrics = createRoundMetrics(new Registry());
  const n = new RevocationNotifier({ urls, backoffMs: 20, metrics, ...opts });
  notifiers.push(n);
  return { n, metrics };
}

async function count(m: RoundMetrics, result: string): Promise<number> {
  return (await m.notices.get()).values.find((v) => v.labels['result'] === result)?.value ?? 0;
}

const notice: RevocationNotice = revocationNotice('revocation', 'node-a', 'strict', [
  { id: 'ima.digest_not_allowed', message: 'a' }, { id: 'ima.digest_not_allowed', message: 'b' }, { id: 'quote.nonce_mismatch', message: 'c' },
], new Date('2025-01-02T03:04:05.000Z'));

it('POSTs the JSON notice to every URL without waiting', async () => {
  const a = await hook([200]);
  const b = await hook([204]);
  const { n, metrics } = notifier([a.url, b.url]);
  n.notify(notice);
  expect(a.bodies).toHaveLength(0);
  await n.idle();
  const expected = { type: 'revocation', node: 'node-a', policy: 'strict', reasons: ['ima.digest_not_allowed', 'quote.nonce_mismatch'], time: '2025-01-02T03:04:05.000Z' };
  expect(a.bodies).toEqual([expected]);
  expect(b.bodies).toEqual([expected]);
  expect(await count(metrics, 'delivered')).toBe(2);
});

it('retries 5xx and 429 with backoff until delivered', async () => {
  const h = await hook([503, 429, 200]);
  const { n, metrics } = notifier([h.url]);
  const started = Date.now();
  n.notify(notice);
  await n.idle();
  expect(h.bodies).toHaveLength(3);
  expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 40);
  expect(await count(metrics, 'delivered')).toBe(1);
});

it('gives up after maxAttempts, and at once on a 4xx', async () => {
  const down = await hook([500]);
  const rejecting = await hook([400]);
  const { n, metrics } = notifier([down.url, rejecting.url], { maxAttempts: 3 });
  n.notify(notice);
  await n.idle();
  expect(down.bodies).toHaveLength(3);
  expect(rejecting.bodies).toHaveLength(1);
  expect(await count(metrics, 'failed')).toBe(2);
});

it('times out a webhook that never answers, and retries an unreachable one', async () => {
  const silent = await hook([0]);
  const closed = await hook([200]);
  await new Promise((r) => { servers.pop()!.close(r); });
  const { n, metrics } = notifier([silent.url, closed.url], { maxAttempts: 2, timeoutMs: 150 });
  // Fire and forget: notify returns before any delivery is attempted to completion.
  expect(n.notify(notice)).toBeUndefined();
  expect(silent.bodies).toHaveLength(0);
  await n.idle();
  expect(silent.bodies).toHaveLength(2);
  expect(await count(metrics, 'failed')).toBe(2);
});

it('bounds the queue, dropping the oldest undelivered notices', async () => {
  const slow = await hook([200], 100);
  const { n, metrics } = notifier([slow.url], { maxQueue: 3, concurrency: 1 });
  for (let i = 0; i < 10; i++) n.notify({ ...notice, node: `n${i}` });
  await n.idle();
  expect(slow.bodies.map((b) => (b as RevocationNotice).node)).toEqual(['n0', 'n8', 'n9']);
  expect(await count(metrics, 'dropped')).toBe(7);
});
