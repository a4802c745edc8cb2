import net from 'node:net';
import { startHttpServer, type RunningHttpServer } from './http-server.js';
import { recordAction, recordApiWrite } from './metrics.js';

let srv: RunningHttpServer;
let notReady: string | undefined = 'informers not synced';
let crl: string | undefined;
beforeAll(async () => {
  srv = await startHttpServer(0, { notReady: () => notReady, crl: () => crl }, '127.0.0.1');
});
afterAll(() => srv.close());
const get = async (p: string, method = 'GET'): Promise<[number, string]> => {
  const r = await fetch(`http://127.0.0.1:${srv.port}${p}`, { method });
  return [r.status, await r.text()];
};

it('serves health, readiness, metrics and the CRL', async () => {
  expect(await get('/healthz')).toEqual([200, 'ok\n']);
  expect(await get('/readyz')).toEqual([503, 'not ready: informers not synced\n']);
  notReady = undefined;
  expect(await get('/readyz')).toEqual([200, 'ok\n']);
  notReady = 'redis reconnecting';
  expect(await get('/readyz')).toEqual([503, 'not ready: redis reconnecting\n']);
  notReady = undefined;
  expect((await get('/crl'))[0]).toBe(503);
  crl = '-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n';
  expect(await get('/crl')).toEqual([200, crl]);
  recordAction('taint', 'apply');
  recordApiWrite('apply', 'nodeattestations/status');
  const [status, body] = await get('/metrics');
  expect(status).toBe(200);
  expect(body).toContain('nodeward_enforcement_actions_total{action="taint",op="apply"} 1');
  expect(body).toContain('nodeward_api_writes_total{verb="apply",resource="nodeattestations/status"} 1');
  expect(body).toContain('nodeward_credential_revocations_total 0');
  expect((await get('/nope'))[0]).toBe(404);
  expect((await get('/healthz', 'POST'))[0]).toBe(405);
});

it('names no metric with a repeated word (nodeward_process_cpu_seconds_total, not nodeward_process_process_…)', async () => {
  const body = (await get('/metrics'))[1];
  const names = [...new Set([...body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] ?? ''))];
  expect(names).toContain('nodeward_process_cpu_seconds_total');
  expect(names).toContain('nodeward_nodejs_heap_size_used_bytes');
  expect(names.filter((n) => /(?:^|_)([a-z]+)_\1(?:_|$)/.test(n))).toEqual([]);
  expect(names.filter((n) => !n.startsWith('nodeward_'))).toEqual([]);
});

it('cuts off a client that never finishes its request (slowloris from a node)', async () => {
  const slow = await startHttpServer(0, { notReady: () => undefined, crl: () => undefined }, '127.0.0.1', 300);
  try {
    const socket = net.connect(slow.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.resume();
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // headers never end
    const closed = await Promise.race([
      new Promise<string>((resolve) => socket.once('close', () => resolve('closed'))),
      new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 5_000)),
    ]);
    socket.destroy();
    expect(closed).toBe('closed');
  } finally {
    await slow.close();
  }
});
