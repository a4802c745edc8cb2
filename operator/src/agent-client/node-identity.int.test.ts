import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AgentError } from './agent-error.js';
import { HttpsAgentClient, NODE_HEADER, certificateDnsNames } from './https-agent-client.js';
import { OpensslPki, type PemPair } from './testing/openssl-pki.js';

/**
 * The agent proves which node it serves: with a node in the URL (`https://<node>@<ip>:<port>`, as the
 * operator's URLs are), the serving certificate must name that node as a DNS SAN, on every connection,
 * and the request tells the agent the node. Real TLS on loopback, certificates made by openssl.
 */
const pki = new OpensslPki();
let ca: PemPair;
let operator: PemPair;
const servers: https.Server[] = [];
const clients: HttpsAgentClient[] = [];

beforeAll(() => {
  ca = pki.ca('agent-ca');
  operator = pki.leaf('operator', 'agent-ca', [], 'clientAuth');
});
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});
afterAll(() => pki.cleanup());

const identity = {
  ekCertificates: [{ keyType: 'rsa', der: 'AAEC' }], ekPublic: 'AAE=', akPublic: 'AAI=', akName: '000b' + 'ab'.repeat(32),
  tpm: { manufacturer: 'IBM', firmwareVersion: '1.2' },
};

/** An agent at 127.0.0.1 serving `serving`; records each request's headers. */
async function agentAt(serving: PemPair, seen: IncomingMessage['headers'][], status = 200): Promise<number> {
  const server = https.createServer({ ...serving, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status === 200 ? identity : { error: { code: 'identity.wrong_node', message: 'x' } })));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function client(): HttpsAgentClient {
  const c = new HttpsAgentClient({ cert: operator.cert, key: operator.key, ca: ca.cert });
  clients.push(c);
  return c;
}

async function agentError(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AgentError) return e;
    throw new Error(`expected an AgentError, got ${String(e)}`);
  }
  throw new Error('expected an AgentError, got success');
}

it('reads the DNS names of a subjectAltName verbatim (no wildcards)', () => {
  expect(certificateDnsNames('DNS:node-2, IP Address:127.0.0.1, DNS:*.nodes.example')).toEqual(['node-2', '*.nodes.example']);
  expect(certificateDnsNames(undefined)).toEqual([]);
});

it('talks to an agent whose serving certificate names the node, and tells it the node', async () => {
  const seen: IncomingMessage['headers'][] = [];
  const port = await agentAt(pki.leaf('node-2', 'agent-ca', ['127.0.0.1', 'node-2'], 'serverAuth'), seen);
  await expect(client().identity(`https://node-2@127.0.0.1:${port}`)).resolves.toEqual(identity);
  expect(seen[0]?.[NODE_HEADER]).toBe('node-2');
  expect(seen[0]?.authorization).toBeUndefined();
});

it('refuses an agent whose serving certificate names another node (a Node pointing at node-2\'s address), before any request', async () => {
  const seen: IncomingMessage['headers'][] = [];
  const port = await agentAt(pki.leaf('node-2b', 'agent-ca', ['127.0.0.1', 'node-2'], 'serverAuth'), seen);
  const c = client();
  const e = await agentError(c.identity(`https://rogue@127.0.0.1:${port}`));
  expect(e.code).toBe('wrong_node');
  expect(e.message).toContain('node-2');
  expect(seen).toHaveLength(0);
  // A connection checked for node-2 is never reused for rogue at the same address.
  await c.identity(`https://node-2@127.0.0.1:${port}`);
  expect((await agentError(c.identity(`https://rogue@127.0.0.1:${port}`))).code).toBe('wrong_node');
  expect(seen).toHaveLength(1);
});

it('refuses a serving certificate naming only the address (the address is not an identity)', async () => {
  const port = await agentAt(pki.leaf('ip-only', 'agent-ca', ['127.0.0.1'], 'serverAuth'), []);
  expect((await agentError(client().identity(`https://node-2@127.0.0.1:${port}`))).code).toBe('wrong_node');
});

it('an agent answering 421 (configured for another node) is wrong_node', async () => {
  const port = await agentAt(pki.leaf('node-3', 'agent-ca', ['node-3'], 'serverAuth'), [], 421);
  const e = await agentError(client().identity(`https://node-3@127.0.0.1:${port}`));
  expect([e.code, e.status, e.agentCode]).toEqual(['wrong_node', 421, 'identity.wrong_node']);
});

it('keeps one connection per node across rounds (the node check does not split the pool); control calls keep none', async () => {
  const seen: string[] = [];
  const serving = pki.leaf('node-4', 'agent-ca', ['node-4', 'node-5'], 'serverAuth');
  const server = https.createServer({ ...serving, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push(`${String(req.headers[NODE_HEADER])} ${req.url ?? ''}`);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.url === '/v1/eventlog' ? { log: 'AAAA' } : identity)));
  });
  server.keepAliveTimeout = 75_000;
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const handshakes: string[] = [];
  server.on('secureConnection', (s: import('node:tls').TLSSocket) => handshakes.push((s as unknown as { servername: string }).servername));
  const c = client();
  for (let round = 0; round < 3; round++) {
    await c.eventLog(`https://node-4@127.0.0.1:${port}`);
    await c.eventLog(`https://node-5@127.0.0.1:${port}`);
  }
  expect(seen).toEqual(['node-4', 'node-5', 'node-4', 'node-5', 'node-4', 'node-5'].map((n) => `${n} /v1/eventlog`));
  // One connection per node, each checked once: a node's connection is never lent to the other, and
  // (until 2026-12-06, a checkServerIdentity passed per request) no round opens a new one.
  expect(handshakes).toEqual(['node-4', 'node-5']);
  expect(c.idleConnections).toBe(2);
  // A kept connection checked for node-4 is not lent to another node at the same address.
  expect((await agentError(c.eventLog(`https://rogue@127.0.0.1:${port}`))).code).toBe('wrong_node');
  // The leader's registration and credential calls reach any node: their connections are not kept.
  await c.identity(`https://node-4@127.0.0.1:${port}`);
  await c.identity(`https://node-4@127.0.0.1:${port}`);
  expect(handshakes.filter((n) => n !== 'rogue')).toEqual(['node-4', 'node-5', 'node-4', 'node-4']);
  expect(c.idleConnections).toBe(2);
  // Each TLS session cached for resumption is a copy of its own: Node hands it over as a view into the
  // socket's 64 KiB read buffer, which a cached view would keep alive for as long as the node is attested.
  const cached = (['nodeAgent', 'controlAgent'] as const).flatMap((a) =>
    Object.values((c as unknown as Record<string, { _sessionCache: { map: Record<string, Buffer> } }>)[a]!._sessionCache.map));
  expect(cached.length).toBeGreaterThanOrEqual(3);
  expect(cached.map((b) => b.buffer.byteLength)).toEqual(cached.map((b) => b.length));
});
