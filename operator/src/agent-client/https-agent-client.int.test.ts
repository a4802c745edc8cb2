import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AgentError } from './agent-error.js';
import { HttpsAgentClient } from './https-agent-client.js';
import { OpensslPki, type PemPair } from './testing/openssl-pki.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const pki = new OpensslPki();
let ca: PemPair;
let operator: PemPair;
const servers: https.Server[] = [];
const clients: HttpsAgentClient[] = [];

beforeAll(() => {
  ca = pki.ca('agent-ca');
  pki.ca('other-ca');
  operator = pki.leaf('operator', 'agent-ca', [], 'clientAuth');
});
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});
afterAll(() => pki.cleanup());

async function agentServer(handler: Handler, serving: PemPair = pki.leaf('agent', 'agent-ca', ['127.0.0.1'], 'serverAuth')): Promise<string> {
  const server = https.createServer({ ...serving, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(opts: { timeoutMs?: number; maxBodyBytes?: number; maxIdleConnections?: number } = {}): HttpsAgentClient {
  const c = new HttpsAgentClient({ cert: operator.cert, key: operator.key, ca: ca.cert, ...opts });
  clients.push(c);
  return c;
}

function json(status: number, value: unknown): Handler {
  return (_req, res) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value)); };
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

const identity = {
  ekCertificates: [{ keyType: 'rsa', der: 'AAEC' }], ekPublic: 'AAE=', akPublic: 'AAI=', akName: '000b' + 'ab'.repeat(32),
  tpm: { manufacturer: 'IBM', firmwareVersion: '1.2' },
};

it('calls every endpoint over mutual TLS and returns the validated DTOs', async () => {
  const seen: string[] = [];
  const quote = { quoted: 'AQID', signature: 'BAU=', pcrs: { sha256: { '0': '00'.repeat(32), '10': 'ff'.repeat(32) } } };
  const routes: Record<string, unknown> = {
    'GET /v1/identity': identity, 'POST /v1/activate': { secret: 'c2VjcmV0' }, 'POST /v1/quote': quote,
    'GET /v1/ima?from=3': { from: 3, total: 5, entries: 'AAAA' }, 'GET /v1/eventlog': { log: 'AAAA' },
    'GET /v1/verity': { devices: [{ name: 'root', rootHash: 'ab'.repeat(32), status: 'verified' }] },
    'PUT /v1/credential': {}, 'DELETE /v1/credential': {},
  };
  const url = await agentServer((req, res, body) => {
    const key = `${req.method} ${req.url}`;
    const cn = String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN);
    seen.push(`${key} ${cn} ${body}`);
    json(key in routes ? 200 : 404, routes[key] ?? { error: { code: 'not_found', message: key } })(req, res, body);
  });
  const c = client();
  expect(await c.identity(url)).toEqual(identity);
  expect(await c.activate(url, { credentialBlob: 'AA==', encryptedSecret: 'AQ==' })).toEqual({ secret: 'c2VjcmV0' });
  expect(await c.quote(url, { nonce: 'aa'.repeat(32), pcrSelection: { sha256: [0, 10] } })).toEqual(quote);
  expect(await c.ima(url, 3)).toEqual({ from: 3, total: 5, entries: 'AAAA' });
  expect(await c.eventLog(url)).toEqual({ log: 'AAAA' });
  expect((await c.verity(url)).devices[0]?.status).toBe('verified');
  await c.putCredential(url, { certificatePem: 'c', privateKeyPem: 'k', caPem: 'a' });
  await c.deleteCredential(url);
  expect(seen).toContain(`POST /v1/quote operator {"nonce":"${'aa'.repeat(32)}","pcrSelection":{"sha256":[0,10]}}`);
  expect(seen).toHaveLength(8);
});

it.each([
  ['not JSON', (_q: IncomingMessage, res: ServerResponse) => res.writeHead(200).end('{"akName":')],
  ['a JSON array', json(200, [identity])],
  ['akName not a string', json(200, { ...identity, akName: 7 })],
  ['akName not hex', json(200, { ...identity, akName: 'zz' })],
  ['ekPublic not base64', json(200, { ...identity, ekPublic: 'a*b=' })],
  ['an unknown EK key type', json(200, { ...identity, ekCertificates: [{ keyType: 'dsa', der: '' }] })],
  ['tpm missing', json(200, { ...identity, tpm: undefined })],
])('rejects an identity answer that is %s as bad_response', async (_name, handler) => {
  const e = await agentError(client().identity(await agentServer(handler)));
  expect(e.code).toBe('bad_response');
});

it.each([
  ['a PCR of the wrong size', { quoted: '', signature: '', pcrs: { sha256: { '0': '00'.repeat(20) } } }],
  ['an unknown bank', { quoted: '', signature: '', pcrs: { md5: { '0': '00'.repeat(16) } } }],
  ['a PCR index of 24', { quoted: '', signature: '', pcrs: { sha1: { '24': '00'.repeat(20) } } }],
  ['signature missing', { quoted: '', pcrs: {} }],
])('rejects a quote with %s', async (_name, body) => {
  const e = await agentError(client().quote(await agentServer(json(200, body)), { nonce: '00', pcrSelection: {} }));
  expect(e.code).toBe('bad_response');
});

it('rejects an IMA answer that starts elsewhere than asked, but accepts a shrunk log from 0', async () => {
  const url = await agentServer((req, res, b) => json(200, req.url === '/v1/ima?from=9'
    ? { from: 0, total: 2, entries: '' } : { from: 1, total: 5, entries: '' })(req, res, b));
  expect(await client().ima(url, 9)).toEqual({ from: 0, total: 2, entries: '' });
  expect((await agentError(client().ima(url, 4))).code).toBe('bad_response');
});

it('caps the answer size, declared or streamed, as too_large (not bad_response)', async () => {
  const big = JSON.stringify({ secret: 'A'.repeat(4096) });
  const declared = await agentServer((_q, res) => res.writeHead(200, { 'content-length': big.length }).end(big));
  const chunked = await agentServer((_q, res) => { res.writeHead(200); res.write(big.slice(0, 2000)); res.end(big.slice(2000)); });
  const c = client({ maxBodyBytes: 1024 });
  expect((await agentError(c.activate(declared, { credentialBlob: '', encryptedSecret: '' }))).code).toBe('too_large');
  expect((await agentError(c.activate(chunked, { credentialBlob: '', encryptedSecret: '' }))).code).toBe('too_large');
});

it('asks for a round in one POST /v1/round under the log body cap, and maps an old agent\'s 404 to http_status 404', async () => {
  const seen: string[] = [];
  const quote = { quoted: 'AQID', signature: 'BAU=', pcrs: { sha256: { '10': 'ff'.repeat(32) } } };
  // An IMA list larger than the ordinary cap: a round answer gets the log cap.
  const ima = { from: 2, total: 9, entries: 'A'.repeat(8192) };
  const url = await agentServer((req, res, body) => {
    seen.push(`${req.method} ${req.url} ${body}`);
    json(req.url === '/v1/round' ? 200 : 404, req.url === '/v1/round' ? { quote, ima } : { error: { code: 'request.not_found', message: 'no such path' } })(req, res, body);
  });
  const request = { nonce: 'aa'.repeat(32), pcrSelection: { sha256: [10] }, imaFrom: 2 };
  expect(await client({ maxBodyBytes: 1024 }).round(url, request)).toEqual({ quote, ima });
  expect(seen).toEqual([`POST /v1/round ${JSON.stringify(request)}`]);
  const small = new HttpsAgentClient({ cert: operator.cert, key: operator.key, ca: ca.cert, maxBodyBytes: 1024, maxLogBodyBytes: 4096 });
  clients.push(small);
  expect((await agentError(small.round(url, request))).message).toMatch(/exceeds 4096/);
  expect((await agentError(client().round(url, { ...request, imaFrom: 3 }))).message).toBe('agent response: round.ima.from is 2, asked for 3');
  const old = await agentServer(json(404, { error: { code: 'request.not_found', message: 'no such path' } }));
  expect(await agentError(client().round(old, request))).toMatchObject({ code: 'http_status', status: 404, agentCode: 'request.not_found' });
});

it('times out an agent that does not answer', async () => {
  const url = await agentServer(() => undefined);
  // A hang would end in Jest's own timeout; the typed code proves the client's timer fired.
  const e = await agentError(client({ timeoutMs: 300 }).identity(url));
  expect(e.code).toBe('timeout');
});

it('maps a non-2xx answer to http_status with the agent code', async () => {
  const e = await agentError(client().identity(await agentServer(json(503, { error: { code: 'tpm_busy', message: 'busy' } }))));
  expect(e).toMatchObject({ code: 'http_status', status: 503, agentCode: 'tpm_busy', name: 'AgentError' });
});

it('refuses a serving certificate from another CA or for another IP', async () => {
  const otherCa = await agentServer(json(200, identity), pki.leaf('rogue', 'other-ca', ['127.0.0.1'], 'serverAuth'));
  const otherIp = await agentServer(json(200, identity), pki.leaf('elsewhere', 'agent-ca', ['10.9.9.9'], 'serverAuth'));
  const e1 = await agentError(client().identity(otherCa));
  const e2 = await agentError(client().identity(otherIp));
  expect(e1.code).toBe('unreachable');
  expect(e2.code).toBe('unreachable');
  expect(e2.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
});

it('maps a refused connection to unreachable', async () => {
  const url = await agentServer(json(200, identity));
  await new Promise((r) => { servers[0]!.close(r); });
  servers.splice(0);
  expect((await agentError(client().identity(url))).code).toBe('unreachable');
});

it('resumes the TLS session when the agent closed the idle socket between rounds, across more agents than Node caches by default', async () => {
  const seen: { reused: boolean; authorized: boolean; cn: unknown }[] = [];
  const serving = pki.leaf('agent', 'agent-ca', ['127.0.0.1'], 'serverAuth');
  const record: Handler = (req, res) => {
    const s = req.socket as import('node:tls').TLSSocket;
    seen.push({ reused: s.isSessionReused(), authorized: s.authorized, cn: s.getPeerCertificate().subject?.CN });
    json(200, identity)(req, res, '');
  };
  // One round to each of 150 agents (Node's https.Agent caches 100 sessions by default).
  const urls = await Promise.all(Array.from({ length: 150 }, () => agentServer(record, serving)));
  const c = client();
  for (const url of urls) await c.identity(url);
  // Agents drop idle keep-alive sockets (their keepAliveTimeout is shorter than a round interval).
  for (const s of servers) s.closeIdleConnections();
  await new Promise((r) => setImmediate(r));
  seen.splice(0);
  await c.identity(urls[0]!);
  expect(seen).toEqual([{ reused: true, authorized: true, cn: 'operator' }]);
});

it('keeps one open connection per agent across rounds (300 agents: the idle-socket limit is per agent)', async () => {
  const serving = pki.leaf('agent', 'agent-ca', ['127.0.0.1'], 'serverAuth');
  const handshakes = new Map<string, number>();
  const peers: { authorized: boolean; cn: unknown }[] = [];
  const urls = await Promise.all(Array.from({ length: 300 }, async () => {
    let url = '';
    url = await agentServer((req, res) => {
      const s = req.socket as import('node:tls').TLSSocket;
      peers.push({ authorized: s.authorized, cn: s.getPeerCertificate().subject?.CN });
      json(200, identity)(req, res, '');
    }, serving);
    servers[servers.length - 1]!.on('secureConnection', () => handshakes.set(url, (handshakes.get(url) ?? 0) + 1));
    return url;
  }));
  const c = client();
  for (let round = 0; round < 3; round++) {
    for (const url of urls) await c.identity(url);
  }
  expect(peers).toHaveLength(900);
  expect(peers.every((p) => p.authorized && p.cn === 'operator')).toBe(true);
  // Three rounds to each agent over one TLS connection each: no handshake after the first round.
  expect([...handshakes.values()].filter((n) => n !== 1)).toEqual([]);
  expect(handshakes.size).toBe(300);
});

it('keeps at most maxIdleConnections idle across agents: the rest reconnect each round, resuming their TLS session', async () => {
  const serving = pki.leaf('agent', 'agent-ca', ['127.0.0.1'], 'serverAuth');
  const handshakes = new Map<string, { full: number; resumed: number }>();
  const urls: string[] = [];
  for (let i = 0; i < 40; i++) {
    const url = await agentServer(json(200, identity), serving);
    const h = { full: 0, resumed: 0 };
    handshakes.set(url, h);
    servers[servers.length - 1]!.on('secureConnection', (s: import('node:tls').TLSSocket) => { h[s.isSessionReused() ? 'resumed' : 'full'] += 1; });
    urls.push(url);
  }
  const c = client({ maxIdleConnections: 10 });
  for (let round = 0; round < 3; round++) {
    for (const url of urls) {
      await c.identity(url);
      expect(c.idleConnections).toBeLessThanOrEqual(10);
    }
  }
  // The agents see the closes a moment later.
  const open = (): number => servers.reduce((n, s) => n + (s as unknown as { _connections: number })._connections, 0);
  for (let i = 0; i < 50 && open() > 10; i++) await new Promise((r) => setTimeout(r, 20));
  expect(open()).toBe(10);
  const all = urls.map((u) => handshakes.get(u));
  // The first 10 agents kept their connection (one handshake each); the other 30 connected every round, resumed after the first.
  expect(all.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => ({ full: 1, resumed: 0 })));
  expect(all.slice(10)).toEqual(Array.from({ length: 30 }, () => ({ full: 1, resumed: 2 })));
  // A lower cap (a replica that starts leading) closes the idle connections past it at once.
  c.setIdleCap(3);
  expect(c.idleConnections).toBe(3);
  for (let i = 0; i < 50 && open() > 3; i++) await new Promise((r) => setTimeout(r, 20));
  expect(open()).toBe(3);
  // and keeps no more than it from then on.
  for (const url of urls.slice(20)) await c.identity(url);
  expect(c.idleConnections).toBe(3);
});
