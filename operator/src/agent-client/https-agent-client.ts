import type { ClientRequest } from 'node:http';
import https from 'node:https';
import type { Duplex as Socket } from 'node:stream';
import { createSecureContext, type PeerCertificate } from 'node:tls';
import type {
  ActivateRequest, ActivateResponse, CredentialRequest, EventLogResponse, IdentityResponse, ImaLogResponse,
  QuoteRequest, QuoteResponse, RoundRequest, RoundResponse, VerityStatusResponse,
} from '@nodeward/attest';
import { AGENT_API_VERSION, ownedCopy } from '@nodeward/attest';
import type { AgentClient } from './agent-client.js';
import { AgentError } from './agent-error.js';
import {
  agentErrorCode, parseActivateResponse, parseEventLogResponse, parseIdentityResponse, parseImaLogResponse,
  parseQuoteResponse, parseRoundResponse, parseVerityStatusResponse,
} from './parse-agent-response.js';

export interface HttpsAgentClientOptions {
  /** The operator's client certificate and key (PEM), presented to every agent. */
  cert: string | Buffer;
  key: string | Buffer;
  /** The CA (PEM) that issued the agents' serving certificates; the only one trusted. */
  ca: string | Buffer;
  /** Per-request deadline for the whole exchange. Default 5000 ms. */
  timeoutMs?: number;
  /** Deadline for IMA and boot event log requests (large bodies). Default 30000 ms. */
  logTimeoutMs?: number;
  /** Body cap for ordinary answers. Default 64 KiB. */
  maxBodyBytes?: number;
  /**
   * Body cap for IMA and event log answers (and round answers carrying them). Default 16 MiB: about
   * 12 MiB of binary IMA list, ~80,000 ima-ng entries. The body is streamed and abandoned at the cap,
   * so a round holds at most a few times this much (the body, its text and the decoded list).
   */
  maxLogBodyBytes?: number;
  /** Keep-alive sockets per agent. Default 2. */
  maxSocketsPerAgent?: number;
  /**
   * TLS sessions kept for resumption, one per agent address. Default 20000: with fewer than the
   * attested nodes, every round to every node pays a full handshake (Node's default is 100).
   */
  maxCachedSessions?: number;
  /**
   * Idle keep-alive sockets kept per agent. Default 1: a round's requests are sequential, and the
   * agent keeps an idle connection open longer than the round interval (its keepAliveTimeout), so
   * each round reuses the open connection instead of a TLS handshake. Costs one file descriptor per
   * attested node (Node's limit is per host; there is no cap across agents).
   */
  maxFreeSockets?: number;
  /**
   * Idle keep-alive connections kept across all agents. Default: no cap (the operator sets one,
   * `NODEWARD_AGENT_MAX_IDLE_CONNECTIONS`). A kept mTLS connection cost ~110 KiB of RSS in the scale
   * bench (OpenSSL 3 and Node's TLS state); past the cap, a freed connection is closed and that agent's
   * next round resumes the TLS session on a new one, which doubles that round's CPU in the operator and
   * in the agent (bench/RESULTS.md, 2026-12-06).
   */
  maxIdleConnections?: number;
}

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  log?: boolean;
  /** The node the agent must serve (the agent URL's user part). */
  node?: string;
  /**
   * A control call (identity, activation, credential delivery): made by the leader to any node, once
   * in a while, so its connection is closed after it rather than kept idle beside the round owner's.
   */
  control?: boolean;
}

/** The request header telling the agent which node the operator expects it to serve. */
export const NODE_HEADER = 'nodeward-node';

/** A serving certificate that does not name the expected node. */
class WrongNodeError extends Error {
  readonly code = 'ERR_NODEWARD_WRONG_NODE';
  constructor(message: string) {
    super(message);
    this.name = 'WrongNodeError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * The DNS names of a serving certificate's subjectAltName (Node's `DNS:a, IP Address:b` form),
 * exactly as written: no wildcard matching, the node name must be there verbatim. Pure.
 */
export function certificateDnsNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
}

/**
 * checkServerIdentity of the node agent, whose connections' servername is the node: the certificate
 * (already chained to the CA) names that node as a DNS SAN. Node passes the servername as `node`.
 * It is an Agent option, not a request option: Node (24) gives a request carrying its own
 * checkServerIdentity a socket pool and TLS session cache of its own, so every request would open a
 * new connection with a full handshake (what every round did until 2026-12-06).
 */
function servesNode(node: string, cert: PeerCertificate): Error | undefined {
  const names = certificateDnsNames(cert.subjectaltname);
  if (names.includes(node)) return undefined;
  return new WrongNodeError(`the agent's serving certificate names ${names.length === 0 ? 'no node' : names.join(', ')}, not node ${node}`);
}

const KiB = 1024;

export const DEFAULT_MAX_LOG_BODY_BYTES = 16 * KiB * KiB;

/**
 * AgentClient over node:https with mutual TLS. The agent's certificate must chain to `ca` and, when
 * `agentUrl` names a node (`https://<node>@<ip>:<port>`, as the operator's URLs always do), carry
 * that node name as a DNS SAN, checked on every connection; the request then also tells the agent
 * the node (header `nodeward-node`). A URL without a node falls back to Node's default check (the
 * IP as a SAN); only tests use it.
 */
export class HttpsAgentClient implements AgentClient {
  /** Rounds to a node (its URL names it): the certificate must name the node; the connection is kept. */
  private readonly nodeAgent: IdleCappedAgent;
  /** Control calls to a node: the same check, the connection closed after each (TLS sessions resumed). */
  private readonly controlAgent: SessionCopyingAgent;
  /** Requests to a bare address (tests only): Node's default check, the address as a SAN. */
  private readonly addressAgent: IdleCappedAgent;
  private readonly timeoutMs: number;
  private readonly logTimeoutMs: number;
  private readonly maxBody: number;
  private readonly maxLogBody: number;

  constructor(opts: HttpsAgentClientOptions) {
    // One SecureContext for every connection: https.Agent would parse the key, certificate and CA
    // again for each new socket.
    const secureContext = createSecureContext({ cert: opts.cert, key: opts.key, ca: opts.ca, minVersion: 'TLSv1.2' });
    const options: https.AgentOptions = {
      keepAlive: true, maxSockets: opts.maxSocketsPerAgent ?? 2, maxTotalSockets: Infinity,
      maxFreeSockets: opts.maxFreeSockets ?? 1, maxCachedSessions: opts.maxCachedSessions ?? 20_000,
      secureContext, rejectUnauthorized: true, minVersion: 'TLSv1.2',
    };
    // One count of idle connections for both agents, so the cap holds across them.
    const idle = new Set<Socket>();
    this.nodeAgent = new IdleCappedAgent(opts.maxIdleConnections ?? Infinity, idle, { ...options, checkServerIdentity: servesNode });
    this.controlAgent = new SessionCopyingAgent({ ...options, keepAlive: false, checkServerIdentity: servesNode });
    this.addressAgent = new IdleCappedAgent(opts.maxIdleConnections ?? Infinity, idle, options);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.logTimeoutMs = opts.logTimeoutMs ?? 30_000;
    this.maxBody = opts.maxBodyBytes ?? 64 * KiB;
    this.maxLogBody = opts.maxLogBodyBytes ?? DEFAULT_MAX_LOG_BODY_BYTES;
  }

  /**
   * Changes the cap on idle connections kept (the leader keeps fewer: its memory holds the fleet's
   * caches). Idle connections past the new cap are closed at once.
   */
  setIdleCap(maxIdle: number): void {
    this.nodeAgent.setMaxIdle(maxIdle);
    this.addressAgent.setMaxIdle(maxIdle);
  }

  /** Idle connections kept now (tests and metrics). */
  get idleConnections(): number {
    return this.nodeAgent.idleCount;
  }

  async identity(agentUrl: string): Promise<IdentityResponse> {
    return parseIdentityResponse(await this.call(agentUrl, { method: 'GET', path: 'identity', control: true }));
  }

  async activate(agentUrl: string, request: ActivateRequest): Promise<ActivateResponse> {
    return parseActivateResponse(await this.call(agentUrl, { method: 'POST', path: 'activate', body: request, control: true }));
  }

  async quote(agentUrl: string, request: QuoteRequest): Promise<QuoteResponse> {
    return parseQuoteResponse(await this.call(agentUrl, { method: 'POST', path: 'quote', body: request }));
  }

  async round(agentUrl: string, request: RoundRequest): Promise<RoundResponse> {
    if (request.imaFrom !== undefined) checkFrom(request.imaFrom);
    return parseRoundResponse(await this.call(agentUrl, { method: 'POST', path: 'round', body: request, log: true }), request);
  }

  async ima(agentUrl: string, from: number): Promise<ImaLogResponse> {
    checkFrom(from);
    return parseImaLogResponse(await this.call(agentUrl, { method: 'GET', path: `ima?from=${from}`, log: true }), from);
  }

  async eventLog(agentUrl: string): Promise<EventLogResponse> {
    return parseEventLogResponse(await this.call(agentUrl, { method: 'GET', path: 'eventlog', log: true }));
  }

  async verity(agentUrl: string): Promise<VerityStatusResponse> {
    return parseVerityStatusResponse(await this.call(agentUrl, { method: 'GET', path: 'verity' }));
  }

  async putCredential(agentUrl: string, request: CredentialRequest): Promise<void> {
    await this.call(agentUrl, { method: 'PUT', path: 'credential', body: request, control: true });
  }

  async deleteCredential(agentUrl: string): Promise<void> {
    await this.call(agentUrl, { method: 'DELETE', path: 'credential', control: true });
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.nodeAgent.destroy();
    this.controlAgent.destroy();
    this.addressAgent.destroy();
  }

  private async call(agentUrl: string, c: Call): Promise<unknown> {
    const url = new URL(`/${AGENT_API_VERSION}/${c.path}`, agentUrl);
    if (url.protocol !== 'https:') throw new AgentError('unreachable', `agent URL is not https: ${agentUrl}`);
    const node = decodeURIComponent(url.username);
    url.username = '';
    url.password = '';
    if (node !== '') c = { ...c, node };
    const { status, body } = await this.exchange(url, c).catch((e: unknown) => {
      // The agent closed an idle keep-alive socket just as it was reused (Node's request.reusedSocket
      // race): the request never reached it, so one retry on a fresh socket is safe.
      if (e instanceof StaleSocketError) return this.exchange(url, c);
      throw e;
    });
    const json = parseJson(body, status);
    if (status === 421) throw new AgentError('wrong_node', `the agent at ${url.host} does not serve node ${c.node ?? '(unnamed)'} (421 ${agentErrorCode(json) ?? ''})`, status, agentErrorCode(json));
    if (status < 200 || status > 299) {
      const code = agentErrorCode(json);
      throw new AgentError('http_status', `agent answered ${status}${code === undefined ? '' : ` (${code})`}`, status, code);
    }
    return json;
  }

  private exchange(url: URL, c: Call): Promise<{ status: number; body: Buffer }> {
    const payload = c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body));
    const limit = c.log === true ? this.maxLogBody : this.maxBody;
    const timeoutMs = c.log === true ? this.logTimeoutMs : this.timeoutMs;
    return new Promise((resolve, reject) => {
      const req = https.request(url, {
        method: c.method, agent: c.node === undefined ? this.addressAgent : c.control === true ? this.controlAgent : this.nodeAgent,
        headers: { accept: 'application/json', ...(payload && { 'content-type': 'application/json', 'content-length': payload.length }), ...(c.node === undefined ? {} : { [NODE_HEADER]: c.node }) },
        // The node, not the address, is the agent's identity: its serving certificate must name it (the
        // node agent's checkServerIdentity reads the servername). The servername also keys the agent's
        // socket pool and TLS session cache, so no connection or session checked for one node is reused
        // for another at the same address.
        ...(c.node === undefined ? {} : { servername: c.node }),
      });
      const fail = (e: AgentError): void => { reject(e); req.destroy(); };
      const timer = setTimeout(() => fail(new AgentError('timeout', `agent did not answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(req.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? new StaleSocketError() : transportError(e));
      });
      req.on('response', (res) => {
        readBody(res, limit).then((body) => resolve({ status: res.statusCode ?? 0, body }), fail).finally(() => clearTimeout(timer));
      });
      req.end(payload);
    });
  }
}

function checkFrom(from: number): void {
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`ima: from must be a non-negative integer, got ${from}`);
}

function readBody(res: import('node:http').IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new AgentError('too_large', `agent answer of ${declared} bytes exceeds ${limit}`));
      res.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new AgentError('too_large', `agent answer exceeds ${limit} bytes`));
        chunks.length = 0;
        res.destroy();
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (e) => reject(transportError(e)));
    res.on('aborted', () => reject(new AgentError('unreachable', 'agent connection closed mid-answer')));
  });
}

function parseJson(body: Buffer, status: number): unknown {
  if (body.length === 0) {
    if (status === 204 || status >= 300) return undefined;
    return {};
  }
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    if (status >= 300) return undefined;
    throw new AgentError('bad_response', `agent answer is not JSON (${body.length} bytes)`);
  }
}

function transportError(e: unknown): AgentError {
  if (e instanceof AgentError) return e;
  if (e instanceof WrongNodeError) return new AgentError('wrong_node', e.message);
  const code = (e as { code?: unknown }).code;
  const detail = e instanceof Error ? e.message : String(e);
  return new AgentError('unreachable', `agent unreachable${typeof code === 'string' ? ` (${code})` : ''}: ${detail}`);
}

/**
 * An https.Agent whose TLS session cache (one session per node, for resumption) holds copies of its
 * own. The session Buffer Node hands over is a view into the 64 KiB buffer its TLS socket read into,
 * so caching it as is kept that whole buffer alive per node: 77 of a follower's 105 MiB of external
 * memory at 3,300 nodes (heap snapshot, scale bench, 2026-12-06), and ~40 KiB per node the leader had
 * ever registered. `_cacheSession` is the Agent's own (undocumented, stable since Node 0.11) hook.
 */
class SessionCopyingAgent extends https.Agent {
  _cacheSession(key: string, session: Buffer): void {
    (https.Agent.prototype as unknown as { _cacheSession: (k: string, s: Buffer) => void })._cacheSession.call(this, key, ownedCopy(session));
  }
}

/**
 * An https.Agent keeping at most `maxIdle` idle sockets across all hosts (Node's maxFreeSockets is
 * per host), through the Agent's documented hooks: keepSocketAlive decides whether a freed socket
 * is kept (false closes it), reuseSocket marks a kept one taken up again.
 */
class IdleCappedAgent extends SessionCopyingAgent {
  private readonly watched = new WeakSet<Socket>();

  /** `idle`: the idle sockets counted against `maxIdle`, shareable between agents. */
  constructor(private maxIdle: number, private readonly idle: Set<Socket>, options: https.AgentOptions) {
    super(options);
  }

  /** A new cap; idle sockets past it are closed (the oldest first). */
  setMaxIdle(maxIdle: number): void {
    this.maxIdle = maxIdle;
    for (const socket of this.idle) {
      if (this.idle.size <= maxIdle) break;
      this.idle.delete(socket);
      socket.destroy();
    }
  }

  get idleCount(): number {
    return this.idle.size;
  }

  override keepSocketAlive(socket: Socket): boolean {
    if (this.idle.size >= this.maxIdle) return false;
    // Typed void in @types/node; documented (and implemented) to return whether to keep the socket.
    const keep: unknown = super.keepSocketAlive(socket);
    if (keep !== true) return false;
    this.idle.add(socket);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => this.idle.delete(socket));
    }
    return true;
  }

  override reuseSocket(socket: Socket, request: ClientRequest): void {
    this.idle.delete(socket);
    super.reuseSocket(socket, request);
  }
}

/** A reused keep-alive socket the agent had already closed. */
class StaleSocketError extends Error {
  constructor() {
    super('reused keep-alive socket was closed by the agent');
    this.name = 'StaleSocketError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
