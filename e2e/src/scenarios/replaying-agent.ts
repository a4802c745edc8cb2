import { request, createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A malicious "agent" for the replay scenario: it serves the node's agent certificate on the node's
 * address (so the operator's mTLS checks pass), forwards every request to the real agent, records
 * the first quote and answers every later quote request with that recorded quote, whatever nonce
 * was sent.
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
  let recorded: Buffer | undefined;
  let replayed = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const isQuote = req.method === 'POST' && (req.url ?? '').startsWith('/v1/quote');
    if (isQuote && recorded !== undefined) {
      replayed++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(recorded);
      return;
    }
    const r = await forward(o, req.method ?? 'GET', req.url ?? '/', body);
    if (isQuote && r.status === 200) recorded = r.body;
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body);
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
