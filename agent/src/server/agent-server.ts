import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type {
  ActivateResponse, ErrorResponse, EventLogResponse, IdentityResponse, ImaLogResponse, QuoteResponse, RoundResponse,
  PcrSelection, VerityStatusResponse,
} from '@nodeward/attest';
import { RateLimitedLog, type Logger } from '../log.js';
import { isTpmError } from '../tpm/tpm-error.js';
import { describeRc, TpmResponseError } from '../tpm/tpm-command.js';
import type { AgentTpm } from '../tpm/agent-tpm.js';
import type { ImaLogIndex } from '../evidence/ima-log-index.js';
import { readVerity, type VeritySourceConfig } from '../evidence/verity-source.js';
import { deleteCredential, writeCredential, type CredentialFields } from './credential-store.js';
import { AgentMetrics } from './metrics.js';
import { badRequest, HttpError } from './http-error.js';
import { isOperator } from './peer-identity.js';
import { parseActivateRequest, parseCredentialRequest, parseFrom, parseQuoteRequest, parseRoundRequest, type RoundParts } from './validate.js';

export interface ServerDeps {
  tpm: AgentTpm;
  ima: ImaLogIndex;
  eventLogPath: string;
  verity: VeritySourceConfig;
  credentialDir: string;
  operatorIdentity: string;
  /**
   * The node this agent serves (the downward API's spec.nodeName). A /v1 request naming another node
   * (header `nodeward-node`) is refused with 421, and a credential for another node is not stored.
   * Undefined: no check (tests of the agent alone).
   */
  nodeName?: string;
  maxBodyBytes: number;
  /**
   * How long an idle keep-alive connection stays open. Longer than the round interval, so the operator
   * reuses one connection per agent instead of a TLS handshake per round.
   */
  keepAliveTimeoutMs: number;
  tls: { certPem: string; keyPem: string; clientCaPem: string };
  log: Logger;
  metrics: AgentMetrics;
}

interface Reply {
  status: number;
  json?: unknown;
  text?: string;
}

interface RequestContext {
  query: URLSearchParams;
  body: unknown;
}

type Handler = (ctx: RequestContext) => Promise<Reply>;

const ok = (json: unknown): Reply => ({ status: 200, json });
const noContent: Reply = { status: 204 };

function unavailable(what: string, e: unknown): HttpError {
  const code = (e as NodeJS.ErrnoException).code;
  return new HttpError(503, `${what}.unavailable`, code === 'ENOENT' ? `${what} not present on this node` : `${what} could not be read`);
}

function checkKeyPair(cred: CredentialFields): X509Certificate {
  try {
    const cert = new X509Certificate(cred.certificatePem);
    new X509Certificate(cred.caPem);
    if (!cert.checkPrivateKey(createPrivateKey(cred.privateKeyPem))) throw new Error('mismatch');
    return cert;
  } catch {
    throw badRequest('credential.invalid', 'certificate, key and CA must parse and the key must match the certificate');
  }
}

/** The header naming the node the operator expects this agent to serve. */
export const NODE_HEADER = 'nodeward-node';

/** The DNS names of a certificate's subjectAltName, verbatim. Pure. */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
}

/** A credential names its node as its DNS SAN: one for another node never replaces this node's. */
function checkCredentialNode(cert: X509Certificate, nodeName: string | undefined): void {
  if (nodeName === undefined || dnsNamesOf(cert).includes(nodeName)) return;
  throw new HttpError(403, 'credential.wrong_node', `the credential is not for node ${nodeName}`);
}

/** A /v1 request must name this agent's node: the operator's idea of the node at this address is checked, not assumed. */
function checkNode(req: IncomingMessage, path: string, nodeName: string | undefined): void {
  if (nodeName === undefined || !path.startsWith('/v1/')) return;
  if (req.headers[NODE_HEADER] !== nodeName) throw new HttpError(421, 'identity.wrong_node', `this agent serves node ${nodeName}`);
}

async function takeQuote(d: Pick<ServerDeps, 'tpm' | 'metrics'>, nonce: Buffer, selection: PcrSelection): Promise<QuoteResponse> {
  const t0 = process.hrtime.bigint();
  const q = await d.tpm.quote(nonce, selection);
  d.metrics.quoteLatency(Number(process.hrtime.bigint() - t0) / 1e9);
  return q;
}

async function imaFrom(d: Pick<ServerDeps, 'ima'>, from: number): Promise<ImaLogResponse> {
  const s = await d.ima.slice(from).catch((e: unknown) => { throw unavailable('ima', e); });
  return { from: s.from, total: s.total, entries: s.entries.toString('base64') };
}

async function eventLog(d: Pick<ServerDeps, 'eventLogPath'>): Promise<EventLogResponse> {
  const log = await readFile(d.eventLogPath).catch((e: unknown) => { throw unavailable('eventlog', e); });
  return { log: log.toString('base64') };
}

async function verity(d: Pick<ServerDeps, 'verity'>): Promise<VerityStatusResponse> {
  const devices = await readVerity(d.verity).catch((e: unknown) => { throw unavailable('verity', e); });
  return { devices };
}

/**
 * POST /v1/round, strictly in this order: the quote, then the IMA list (read after the quote, so it
 * holds at least every entry the quoted PCR 10 covers), then the event log and dm-verity status.
 */
export async function answerRound(d: Pick<ServerDeps, 'tpm' | 'ima' | 'eventLogPath' | 'verity' | 'metrics'>, p: RoundParts): Promise<RoundResponse> {
  const out: RoundResponse = { quote: await takeQuote(d, p.nonce, p.selection) };
  if (p.imaFrom !== undefined) out.ima = await imaFrom(d, p.imaFrom);
  if (p.eventLog) out.eventLog = await eventLog(d);
  if (p.verity) out.verity = await verity(d);
  return out;
}

/** TPM2_ActivateCredential's parameters, by the number a format-one response code names. */
const ACTIVATE_PARAMETERS: Record<number, string> = { 1: 'credentialBlob', 2: 'encryptedSecret' };

/**
 * A TPM that rejects one of the activation's parameters (a format-one response code naming it, e.g.
 * TPM_RC_INTEGRITY or TPM_RC_VALUE) was sent a bad blob: 400 naming the field, not 503.
 */
function activateRejection(e: unknown): HttpError | undefined {
  if (!(e instanceof TpmResponseError) || e.command !== 'ActivateCredential' || (e.rc & 0xc0) !== 0xc0) return undefined;
  const field = ACTIVATE_PARAMETERS[(e.rc >> 8) & 0xf];
  return field === undefined ? undefined : badRequest('activate.invalid', `${field} was rejected by the TPM: ${describeRc(e.rc)}`);
}

function routes(d: ServerDeps): Map<string, Handler> {
  const r = new Map<string, Handler>();
  r.set('GET /healthz', () => Promise.resolve(ok({ status: 'ok' })));
  r.set('GET /metrics', () => Promise.resolve({ status: 200, text: d.metrics.render() }));
  r.set('GET /v1/identity', () => Promise.resolve(ok(d.tpm.identity satisfies IdentityResponse)));
  r.set('POST /v1/activate', async ({ body }) => {
    const { idObject, encSecret } = parseActivateRequest(body);
    const secret = await d.tpm.activate(idObject, encSecret).catch((e: unknown) => { throw activateRejection(e) ?? e; });
    return ok({ secret: secret.toString('base64') } satisfies ActivateResponse);
  });
  r.set('POST /v1/quote', async ({ body }) => {
    const { nonce, selection } = parseQuoteRequest(body);
    return ok(await takeQuote(d, nonce, selection));
  });
  r.set('GET /v1/ima', async ({ query }) => ok(await imaFrom(d, parseFrom(query.get('from')))));
  r.set('GET /v1/eventlog', async () => ok(await eventLog(d)));
  r.set('GET /v1/verity', async () => ok(await verity(d)));
  r.set('POST /v1/round', async ({ body }) => ok(await answerRound(d, parseRoundRequest(body))));
  r.set('PUT /v1/credential', async ({ body }) => {
    const cred = parseCredentialRequest(body);
    checkCredentialNode(checkKeyPair(cred), d.nodeName);
    await writeCredential(d.credentialDir, cred);
    d.log.info('node credential stored', { dir: d.credentialDir });
    return noContent;
  });
  r.set('DELETE /v1/credential', async () => {
    const removed = await deleteCredential(d.credentialDir);
    d.log.info('node credential deleted', { removed });
    return noContent;
  });
  return r;
}

/** Reads the body up to `max` bytes; beyond that the rest is drained and a 413 raised. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = (): HttpError => new HttpError(413, 'request.too_large', `request body exceeds ${max} bytes`);
    if (declared > max) { req.resume(); reject(tooLarge()); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      else chunks.push(c);
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

async function parseJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const raw = await readBody(req, max);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw badRequest('request.malformed_json', 'request body is not valid JSON');
  }
}

function errorReply(e: unknown, d: ServerDeps, route: string): Reply {
  const body = (code: string, message: string): ErrorResponse => ({ error: { code, message } });
  if (e instanceof HttpError) return { status: e.status, json: body(e.code, e.message) };
  if (isTpmError(e)) {
    d.metrics.tpmError(route);
    d.log.error('tpm operation failed', { route, tool: e.tool, error: e.detail });
    return { status: 503, json: body('tpm.unavailable', `TPM operation failed (${e.tool})`) };
  }
  d.log.error('request failed', { route, error: e instanceof Error ? e.message : String(e) });
  return { status: 500, json: body('agent.internal', 'internal error') };
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.text !== undefined) {
    res.writeHead(reply.status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(reply.text);
  } else if (reply.json !== undefined) {
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.json));
  } else {
    res.writeHead(reply.status).end();
  }
}

async function dispatch(req: IncomingMessage, table: Map<string, Handler>, d: ServerDeps): Promise<{ route: string; reply: Reply }> {
  const url = new URL(req.url ?? '/', 'https://agent');
  const key = `${req.method ?? 'GET'} ${url.pathname}`;
  const handler = table.get(key);
  const known = [...table.keys()].some((k) => k.endsWith(` ${url.pathname}`));
  const route = known ? url.pathname : 'other';
  try {
    if (!isOperator(req.socket as TLSSocket, d.operatorIdentity)) throw new HttpError(403, 'auth.forbidden', 'client is not the operator');
    checkNode(req, url.pathname, d.nodeName);
    if (!handler) throw known ? new HttpError(405, 'request.method_not_allowed', 'method not allowed') : new HttpError(404, 'request.not_found', 'no such path');
    const body = req.method === 'POST' || req.method === 'PUT' ? await parseJsonBody(req, d.maxBodyBytes) : undefined;
    return { route, reply: await handler({ query: url.searchParams, body }) };
  } catch (e) {
    return { route, reply: errorReply(e, d, route) };
  }
}

/**
 * Connection limits against a flood from the network (or from another node's root): a TLS handshake
 * not done in HANDSHAKE_TIMEOUT_MS is aborted (Node's default is 120 s), one address holds at most
 * MAX_CONNECTIONS_PER_PEER connections (the operator keeps one or two per replica), and the agent at
 * most MAX_CONNECTIONS (past it, new connections are closed at once).
 */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
export const MAX_CONNECTIONS_PER_PEER = 16;
export const MAX_CONNECTIONS = 256;

/** Closes a connection from an address that already holds MAX_CONNECTIONS_PER_PEER, before any TLS. */
function capPerPeer(server: Server, limited: RateLimitedLog): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    const n = open.get(peer) ?? 0;
    if (n >= MAX_CONNECTIONS_PER_PEER) {
      limited.write('warn', 'peer-cap', 'connection refused: too many from one address', { peer, limit: MAX_CONNECTIONS_PER_PEER });
      socket.destroy();
      return;
    }
    open.set(peer, n + 1);
    socket.once('close', () => {
      const left = (open.get(peer) ?? 1) - 1;
      if (left > 0) open.set(peer, left);
      else open.delete(peer);
    });
  });
}

export function createAgentServer(deps: ServerDeps): Server {
  const table = routes(deps);
  const limited = new RateLimitedLog(deps.log);
  const server = createServer({
    cert: deps.tls.certPem, key: deps.tls.keyPem, ca: deps.tls.clientCaPem,
    requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
    requestTimeout: 30_000, headersTimeout: 10_000, handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  }, (req, res) => {
    const t0 = Date.now();
    dispatch(req, table, deps).then(({ route, reply }) => {
      // A client that is not the operator gets no keep-alive connection to sit on.
      if (!req.complete || reply.status === 403) { res.setHeader('connection', 'close'); req.resume(); }
      send(res, reply);
      deps.metrics.request(route, reply.status);
      const fields = { method: req.method, route, status: reply.status, ms: Date.now() - t0 };
      if (reply.status === 403) limited.write('warn', 'forbidden', 'request from a client that is not the operator', fields);
      else deps.log.info('request', fields);
    }).catch((e: unknown) => {
      deps.log.error('response failed', { error: String(e) });
      res.destroy();
    });
  });
  // Only idle keep-alive connections: Node measures headersTimeout and requestTimeout from a request's
  // first byte, so they still bound slow clients (and need not exceed this).
  server.keepAliveTimeout = deps.keepAliveTimeoutMs;
  server.maxConnections = MAX_CONNECTIONS;
  capPerPeer(server, limited);
  server.on('tlsClientError', (e) => limited.write('warn', 'tls-client', 'tls client rejected', { error: e.message }));
  return server;
}
