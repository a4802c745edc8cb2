import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  BANK_NAMES, type ActivateRequest, type BankName, type IdentityResponse, type PcrValues, type QuoteRequest, type QuoteResponse, type RoundRequest, type RoundResponse, type EventLogResponse, type ImaLogResponse, type VerityStatusResponse,
} from '@nodeward/attest';
import { encodeEventLog, encodeImaNgEntry, eventLogPcrs } from '@nodeward/attest/testing';
import { DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from '@nodeward/agent';
import { bootAggregate, bootLogSpec } from '@nodeward/e2e/sim/sim-node';
import { softQuote, type SoftAk } from '@nodeward/e2e/sim/soft-tpm';
import { softActivateCredential, type SoftEk } from './soft-credential.js';

/**
 * A fleet of simulated agents in one process, each on its own 127.0.x.y with mutual TLS and the agent
 * wire format (attest/src/wire.ts) and keep-alive timeout: identity, activate (ActivateCredential in software), quote (real
 * TPMS_ATTEST signed by a software AK over PCRs that replay from the logs), IMA (real ima-ng entries,
 * a few more before every quote), boot event log, dm-verity status, credential. Each node's PCR 10 is
 * extended exactly as its IMA list grows, so the operator's verification does the full work.
 */

export interface FleetImage {
  /** Kernel command line with the fleet's `roothash=`. */
  cmdline: string;
  verityRootHash: string;
  /** Files a node runs (path, contents); the runtime policy must allow them. */
  files: readonly { path: string; contents: string }[];
  /** IMA entries appended before each quote. */
  entriesPerRound: number;
}

export interface FleetNodeKeys { ak: SoftAk; ek: SoftEk; ekCertDer: Buffer; certPem: string }

interface Measured { bytes: Buffer; extend: Record<BankName, Buffer> }

interface FleetNode {
  keys: FleetNodeKeys;
  ima: Buffer[];
  pcr10: Record<BankName, Buffer>;
  next: number;
  server: Server;
  /** When it last served a quote (ms), and the longest time between two since the gap window opened. */
  lastQuoteAt: number;
  maxGapMs: number;
}

const zero = (bank: BankName): Buffer => Buffer.alloc(createHash(bank).digest().length);

function measured(e: { bytes: Buffer; hashInput: Buffer }): Measured {
  return { bytes: e.bytes, extend: Object.fromEntries(BANK_NAMES.map((b) => [b, createHash(b).update(e.hashInput).digest()])) as Record<BankName, Buffer> };
}

const measure = (path: string, contents: string): Measured =>
  measured(encodeImaNgEntry({ path, fileDigest: createHash('sha256').update(contents).digest(), fileDigestAlg: 'sha256' }));

export class SoftFleet {
  private readonly nodes = new Map<string, FleetNode>();
  private readonly eventLog: Buffer;
  private readonly bootPcrs: Record<BankName, Record<string, Buffer>>;
  private readonly aggregate: Measured;
  private readonly runs: Measured[];
  private readonly start = Date.now();
  quotes = 0;

  constructor(private readonly image: FleetImage, private readonly tls: { keyPem: string; clientCaPem: string; operatorIdentity: string }) {
    const spec = bootLogSpec(image.cmdline, true);
    this.eventLog = Buffer.from(encodeEventLog(spec));
    const pcrs = eventLogPcrs(spec);
    this.bootPcrs = Object.fromEntries(BANK_NAMES.map((b) => [b, Object.fromEntries(
      Object.entries(pcrs[b] ?? {}).map(([i, hex]) => [i, Buffer.from(hex, 'hex')]))])) as Record<BankName, Record<string, Buffer>>;
    // The boot_aggregate entry's digest is computed over PCRs 0-9, not a file hash.
    this.aggregate = measured(encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: bootAggregate(pcrs), fileDigestAlg: 'sha256' }));
    this.runs = image.files.map((f) => measure(f.path, f.contents));
  }

  get size(): number { return this.nodes.size; }

  /** Starts the node's listener on ip:port; resolves once it listens. */
  async add(name: string, ip: string, port: number, keys: FleetNodeKeys): Promise<void> {
    const server = createServer({
      cert: keys.certPem, key: this.tls.keyPem, ca: this.tls.clientCaPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
    }, (req, res) => this.handle(name, req, res));
    // As the agent: an idle connection outlives the round interval, so rounds reuse it.
    server.keepAliveTimeout = DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
    const node: FleetNode = { keys, ima: [], pcr10: Object.fromEntries(BANK_NAMES.map((b) => [b, zero(b)])) as Record<BankName, Buffer>, next: 0, server, lastQuoteAt: 0, maxGapMs: 0 };
    this.append(node, this.aggregate);
    this.nodes.set(name, node);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, ip, () => resolve()); });
  }

  /** Opens a gap window: each node's longest time between two quotes is counted from here on. */
  startGapWindow(): void {
    for (const n of this.nodes.values()) n.maxGapMs = 0;
  }

  /**
   * Each node's longest time without a quote in the window: between two quotes (the first may predate
   * the window), or since its last one. A round asks for one quote, so this is its longest unattested time.
   */
  gaps(now = Date.now()): number[] {
    return [...this.nodes.values()].map((n) => Math.max(n.maxGapMs, n.lastQuoteAt === 0 ? Infinity : now - n.lastQuoteAt));
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => new Promise<void>((resolve) => { n.server.close(() => resolve()); n.server.closeAllConnections(); })));
  }

  private append(node: FleetNode, m: Measured): void {
    node.ima.push(m.bytes);
    for (const b of BANK_NAMES) node.pcr10[b] = createHash(b).update(node.pcr10[b]).update(m.extend[b]).digest();
  }

  private handle(name: string, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const node = this.nodes.get(name)!;
      const socket = req.socket as TLSSocket;
      const cn = socket.getPeerCertificate().subject?.CN;
      if (!socket.authorized || cn !== this.tls.operatorIdentity) { reply(res, 403, { error: { code: 'auth.forbidden', message: 'client is not the operator' } }); return; }
      try {
        const url = new URL(req.url ?? '/', 'https://agent');
        const body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        const out = this.route(node, `${req.method} ${url.pathname}`, url, body);
        reply(res, out === undefined ? 204 : 200, out);
      } catch (e) {
        reply(res, 400, { error: { code: 'request.invalid', message: e instanceof Error ? e.message : String(e) } });
      }
    });
  }

  private route(node: FleetNode, key: string, url: URL, body: unknown): unknown {
    switch (key) {
      case 'GET /v1/identity': return this.identity(node);
      case 'POST /v1/activate': {
        const r = body as ActivateRequest;
        const secret = softActivateCredential(node.keys.ek, node.keys.ak.name, Buffer.from(r.credentialBlob, 'base64'), Buffer.from(r.encryptedSecret, 'base64'));
        return { secret: secret.toString('base64') };
      }
      case 'POST /v1/quote': return this.quote(node, body as QuoteRequest);
      case 'POST /v1/round': return this.round(node, body as RoundRequest);
      case 'GET /v1/ima': return imaFrom(node, Number(url.searchParams.get('from') ?? '0'));
      case 'GET /v1/eventlog': return this.eventLogResponse();
      case 'GET /v1/verity': return this.verity();
      case 'PUT /v1/credential': case 'DELETE /v1/credential': return undefined;
      default: throw new Error(`no route ${key}`);
    }
  }

  /** As the agent: the quote first, then the IMA entries (covering at least the quoted PCR 10), event log, verity. */
  private round(node: FleetNode, r: RoundRequest): RoundResponse {
    const out: RoundResponse = { quote: this.quote(node, r) };
    if (r.imaFrom !== undefined) out.ima = imaFrom(node, r.imaFrom);
    if (r.eventLog === true) out.eventLog = this.eventLogResponse();
    if (r.verity === true) out.verity = this.verity();
    return out;
  }

  private eventLogResponse(): EventLogResponse {
    return { log: this.eventLog.toString('base64') };
  }

  private verity(): VerityStatusResponse {
    return { devices: [{ name: 'root', rootHash: this.image.verityRootHash, status: 'verified' }] };
  }

  private identity(node: FleetNode): IdentityResponse {
    const k = node.keys;
    return {
      ekCertificates: [{ keyType: k.ek.type, der: k.ekCertDer.toString('base64') }], ekPublic: k.ek.publicArea.toString('base64'),
      akPublic: k.ak.publicArea.toString('base64'), akName: k.ak.name.toString('hex'), tpm: { manufacturer: 'SOFT', firmwareVersion: '1.0' },
    };
  }

  private quote(node: FleetNode, r: QuoteRequest): QuoteResponse {
    for (let i = 0; i < this.image.entriesPerRound; i++) this.append(node, this.runs[node.next++ % this.runs.length]!);
    const pcrs: PcrValues = {};
    for (const [bank, indices] of Object.entries(r.pcrSelection) as [BankName, number[]][]) {
      pcrs[bank] = Object.fromEntries(indices.map((i) => [String(i), i === 10 ? node.pcr10[bank] : this.bootPcrs[bank][String(i)] ?? zero(bank)]));
    }
    const q = softQuote(node.keys.ak, Buffer.from(r.nonce, 'hex'), pcrs, { resetCount: 0, restartCount: 0, clock: BigInt(Date.now() - this.start) });
    this.quotes++;
    const now = Date.now();
    if (node.lastQuoteAt !== 0) node.maxGapMs = Math.max(node.maxGapMs, now - node.lastQuoteAt);
    node.lastQuoteAt = now;
    const hex = Object.fromEntries(Object.entries(pcrs).map(([b, v]) => [b, Object.fromEntries(Object.entries(v).map(([i, d]) => [i, Buffer.from(d).toString('hex')]))]));
    return { quoted: q.quoted.toString('base64'), signature: q.signature.toString('base64'), pcrs: hex };
  }
}

function imaFrom(node: FleetNode, from: number): ImaLogResponse {
  return { from, total: node.ima.length, entries: Buffer.concat(node.ima.slice(from)).toString('base64') };
}

function reply(res: ServerResponse, status: number, json: unknown): void {
  if (json === undefined) { res.writeHead(status).end(); return; }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
}

export const randomNonce = (): string => randomBytes(32).toString('hex');
