import { digestSize, isBankName } from '@nodeward/attest';
import type {
  ActivateResponse, BankName, EventLogResponse, IdentityResponse, ImaLogResponse, QuoteResponse, RoundRequest,
  RoundResponse, VerityDeviceStatus, VerityStatusResponse,
} from '@nodeward/attest';
import { AgentError } from './agent-error.js';

/**
 * Shape checks of the agent's JSON answers (untrusted input): every field the DTO declares must be
 * present with the right type and format (base64, lowercase hex of the right size, bounded
 * integers). Unknown extra fields are ignored. Anything else is an `AgentError('bad_response')`.
 */

type Json = Record<string, unknown>;

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

function bad(path: string, what: string): never {
  throw new AgentError('bad_response', `agent response: ${path} ${what}`);
}

function obj(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'is not an object');
  return v as Json;
}

function str(v: unknown, path: string, maxLen = 4096): string {
  if (typeof v !== 'string') bad(path, 'is not a string');
  if (v.length > maxLen) bad(path, `is longer than ${maxLen}`);
  return v;
}

function b64(v: unknown, path: string): string {
  const s = str(v, path, Number.MAX_SAFE_INTEGER);
  if (s.length % 4 !== 0 || !B64_RE.test(s)) bad(path, 'is not base64');
  return s;
}

function hex(v: unknown, path: string, bytes?: number): string {
  const s = str(v, path, 1024);
  if (!HEX_RE.test(s)) bad(path, 'is not lowercase hex');
  if (bytes !== undefined && s.length !== bytes * 2) bad(path, `is not ${bytes} bytes`);
  return s;
}

function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(path, 'is not a non-negative integer');
  return v;
}

function arr(v: unknown, path: string, max = 1024): unknown[] {
  if (!Array.isArray(v)) bad(path, 'is not an array');
  if (v.length > max) bad(path, `has more than ${max} items`);
  return v;
}

function pcrBank(v: unknown, path: string, bank: BankName): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [index, value] of Object.entries(obj(v, path))) {
    if (!/^(?:[0-9]|1[0-9]|2[0-3])$/.test(index)) bad(`${path}.${index}`, 'is not a PCR index 0-23');
    out[index] = hex(value, `${path}.${index}`, digestSize(bank));
  }
  return out;
}

/** `at` names the answer in errors ('quote', or 'round.quote' inside a round answer). */
export function parseQuoteResponse(v: unknown, at = 'quote'): QuoteResponse {
  const o = obj(v, at);
  const pcrs: QuoteResponse['pcrs'] = {};
  for (const [bank, values] of Object.entries(obj(o['pcrs'], `${at}.pcrs`))) {
    if (!isBankName(bank)) bad(`${at}.pcrs.${bank}`, 'is not a known bank');
    pcrs[bank] = pcrBank(values, `${at}.pcrs.${bank}`, bank);
  }
  return { quoted: b64(o['quoted'], `${at}.quoted`), signature: b64(o['signature'], `${at}.signature`), pcrs };
}

function ekCertificate(v: unknown, i: number): IdentityResponse['ekCertificates'][number] {
  const o = obj(v, `identity.ekCertificates[${i}]`);
  const keyType = o['keyType'];
  if (keyType !== 'rsa' && keyType !== 'ecc') bad(`identity.ekCertificates[${i}].keyType`, 'is not rsa or ecc');
  return { keyType, der: b64(o['der'], `identity.ekCertificates[${i}].der`) };
}

export function parseIdentityResponse(v: unknown): IdentityResponse {
  const o = obj(v, 'identity');
  const tpm = obj(o['tpm'], 'identity.tpm');
  return {
    ekCertificates: arr(o['ekCertificates'], 'identity.ekCertificates', 8).map(ekCertificate),
    ekPublic: b64(o['ekPublic'], 'identity.ekPublic'),
    akPublic: b64(o['akPublic'], 'identity.akPublic'),
    akName: hex(o['akName'], 'identity.akName'),
    tpm: {
      manufacturer: str(tpm['manufacturer'], 'identity.tpm.manufacturer', 256),
      firmwareVersion: str(tpm['firmwareVersion'], 'identity.tpm.firmwareVersion', 256),
    },
  };
}

export function parseActivateResponse(v: unknown): ActivateResponse {
  return { secret: b64(obj(v, 'activate')['secret'], 'activate.secret') };
}

export function parseImaLogResponse(v: unknown, from: number, at = 'ima'): ImaLogResponse {
  const o = obj(v, at);
  const r = { from: count(o['from'], `${at}.from`), total: count(o['total'], `${at}.total`), entries: b64(o['entries'], `${at}.entries`) };
  // The agent answers from 0 when the log shrank below `from`; any other start is a wrong answer.
  if (r.from !== from && !(r.total < from && r.from === 0)) bad(`${at}.from`, `is ${r.from}, asked for ${from}`);
  return r;
}

export function parseEventLogResponse(v: unknown, at = 'eventlog'): EventLogResponse {
  return { log: b64(obj(v, at)['log'], `${at}.log`) };
}

function verityDevice(v: unknown, path: string): VerityDeviceStatus {
  const o = obj(v, path);
  const status = o['status'];
  if (status !== 'verified' && status !== 'corrupted' && status !== 'unknown') bad(`${path}.status`, 'is not verified, corrupted or unknown');
  return { name: str(o['name'], `${path}.name`, 256), rootHash: hex(o['rootHash'], `${path}.rootHash`), status };
}

export function parseVerityStatusResponse(v: unknown, at = 'verity'): VerityStatusResponse {
  return { devices: arr(obj(v, at)['devices'], `${at}.devices`).map((d, i) => verityDevice(d, `${at}.devices[${i}]`)) };
}

/** A part of the round answer: present exactly when it was asked for (an unasked part is not accepted either). */
function part<T>(o: Json, key: string, asked: boolean, parse: (v: unknown, at: string) => T): T | undefined {
  const v = o[key];
  if (!asked) {
    if (v !== undefined) bad(`round.${key}`, 'was not asked for');
    return undefined;
  }
  if (v === undefined) bad(`round.${key}`, 'is missing');
  return parse(v, `round.${key}`);
}

/** POST /v1/round's answer to `request`: the quote, and each of IMA, event log, verity exactly as asked. */
export function parseRoundResponse(v: unknown, request: RoundRequest): RoundResponse {
  const o = obj(v, 'round');
  const out: RoundResponse = { quote: parseQuoteResponse(o['quote'], 'round.quote') };
  const from = request.imaFrom;
  const ima = part(o, 'ima', from !== undefined, (x, at) => parseImaLogResponse(x, from ?? 0, at));
  const eventLog = part(o, 'eventLog', request.eventLog === true, parseEventLogResponse);
  const verity = part(o, 'verity', request.verity === true, parseVerityStatusResponse);
  return { ...out, ...(ima && { ima }), ...(eventLog && { eventLog }), ...(verity && { verity }) };
}

/** The agent's ErrorResponse code, when the body is one; undefined otherwise (never throws). */
export function agentErrorCode(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const error = (v as Json)['error'];
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as Json)['code'];
  return typeof code === 'string' ? code.slice(0, 128) : undefined;
}
