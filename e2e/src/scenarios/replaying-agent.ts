import { request, createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A malicious "agent" for the replay scenario: it serves the node's agent certificate on the node's
 * address (so the operator's mTLS checks pass), forwards every request to the real agent, records
 * the first quote and answers every later quote request with that recorded quote, whatever nonce
 * was sent: POST /v1/quote, and the quote inside POST /v1/round (the rest of a round, such as the IMA
 * entries, still comes fresh from the agent).
 */
export interface ReplayingAgentOptions {
  host: string;
  port: number;
  /** The node's agent serving certificate, and the operator client CA it requires. */
  tls: { certPem: string; keyPem: string; clientCaPem: string };
  /** https://ip:port of the real agent, and the client credentials it accepts. */
  upstream: string;
  client: { certPem: string; keyPem: string; caPem: string };
}

export interface ReplayingAgent {
  /** Quote requests answered with the recorded quote. */
  replayed(): number;
  close(): Promise<void>;
}

const readBody = (m: IncomingMessage): Promise<Buffer> => new Promise((resolve, reject) => {
  const chunks: Buffer[] = [];
  m.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
});

function forward(o: ReplayingAgentOptions, method: string, path: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, o.upstream), {
      method, cert: o.client.certPem, key: o.client.keyPem, ca: o.client.caPem,
      headers: { 'content-type': 'application/json', 'content-length': body.length, accept: 'application/json' },
    }, (res) => { readBody(res).then((b) => resolve({ status: res.statusCode ?? 502, body: b }), reject); });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startReplayingAgent(o: ReplayingAgentOptions): Promise<ReplayingAgent> {
  let recorded: unknown;
  let replayed = 0;
  /** The quote of an answer (POST /v1/quote, or the `quote` of POST /v1/round): the first recorded, later ones replaced by it. */
  const replayQuote = (answer: unknown, set: (q: unknown) => unknown, get: () => unknown): unknown => {
    if (recorded === undefined) { recorded = get(); return answer; }
    replayed++;
    return set(recorded);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const path = req.method === 'POST' ? (req.url ?? '').split('?')[0] : undefined;
    if (path === '/v1/quote' && recorded !== undefined) {
      replayed++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(recorded));
      return;
    }
    const r = await forward(o, req.method ?? 'GET', req.url ?? '/', body);
    let out = r.body;
    if (r.status === 200 && (path === '/v1/quote' || path === '/v1/round')) {
      const answer = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
      const replaced = path === '/v1/quote'
        ? replayQuote(answer, (q) => q, () => answer)
        : replayQuote(answer, (q) => ({ ...answer, quote: q }), () => answer['quote']);
      out = Buffer.from(JSON.stringify(replaced));
    }
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(out);
  };
  const server: Server = createServer({ cert: o.tls.certPem, key: o.tls.keyPem, ca: o.tls.clientCaPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) res.writeHead(502).end('{}'); });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(o.port, o.host, () => resolve()); });
  return {
    replayed: () => replayed,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
