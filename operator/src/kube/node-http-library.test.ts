import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpMethod, RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { sendRequest } from './node-http-library.js';

// A list response long enough to be sent chunked, in two writes, as kube-apiserver sends large lists.
const LIST = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ name: `node-${i}`, pad: 'x'.repeat(20) })) });
let server: Server;
let base: string;
const seen: { method?: string; body: string; length?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method, body, length: req.headers['content-length'] });
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-multi', ['a', 'b']);
      res.write(LIST.slice(0, 5000));
      setImmediate(() => res.end(LIST.slice(5000)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });

async function manyQueuedGets(send: (ctx: RequestContext) => Promise<ResponseContext>): Promise<{ ok: number; failed: string[] }> {
  // Two sockets for 100 requests: most requests wait for a socket and take it the moment a response ends.
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  const failed: string[] = [];
  let ok = 0;
  await Promise.all(Array.from({ length: 100 }, async () => {
    const ctx = new RequestContext(`${base}/api/v1/nodes`, HttpMethod.GET);
    ctx.setAgent(agent);
    try {
      const text = await (await send(ctx)).body.text();
      if (text === LIST) ok++; else failed.push(`short body (${text.length} bytes)`);
    } catch (e) { failed.push((e as Error).message); }
  }));
  agent.destroy();
  return { ok, failed };
}

describe('nodeHttpLibrary', () => {
  it('completes every chunked response on keep-alive sockets that queued requests take over', async () => {
    expect(await manyQueuedGets(sendRequest)).toEqual({ ok: 100, failed: [] });
  });

  it('sends the method, headers and body with a Content-Length, and returns status and flattened headers', async () => {
    seen.length = 0;
    const ctx = new RequestContext(`${base}/apis/x/v1/things/a?fieldManager=nodeward`, HttpMethod.PATCH);
    ctx.setHeaderParam('Content-Type', 'application/apply-patch+yaml');
    ctx.setBody('{"a":"é"}');
    const res = await sendRequest(ctx);
    expect(res.httpStatusCode).toBe(200);
    expect(res.headers['x-multi']).toBe('a, b');
    expect(seen).toEqual([{ method: 'PATCH', body: '{"a":"é"}', length: '10' }]);
    expect((await res.body.binary()).length).toBe(LIST.length);
  });

  it('rejects with the connection error when nothing listens', async () => {
    const ctx = new RequestContext('http://127.0.0.1:1/api', HttpMethod.GET);
    await expect(sendRequest(ctx)).rejects.toThrow(/ECONNREFUSED/);
  });
});
