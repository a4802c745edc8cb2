import { isBankName, type BankName, type PcrSelection } from '@nodeward/attest';
import type { CredentialFields } from './credential-store.js';
import { badRequest } from './http-error.js';

/** Validation of request bodies (already JSON-parsed, untrusted). Each throws HttpError 400. */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function requireObject(body: unknown, what: string): Record<string, unknown> {
  if (!isObject(body)) throw badRequest('request.invalid', `${what} must be a JSON object`);
  return body;
}

export function parseNonce(v: unknown): Buffer {
  if (typeof v !== 'string' || !/^(?:[0-9a-fA-F]{2}){8,64}$/.test(v)) {
    throw badRequest('quote.invalid_nonce', 'nonce must be hex of 8 to 64 bytes');
  }
  return Buffer.from(v, 'hex');
}

export function parsePcrSelection(v: unknown): PcrSelection {
  const sel = requireObject(v, 'pcrSelection');
  const out: Partial<Record<BankName, number[]>> = {};
  let count = 0;
  for (const [bank, indices] of Object.entries(sel)) {
    if (!isBankName(bank)) throw badRequest('quote.invalid_bank', `unsupported PCR bank ${JSON.stringify(bank).slice(0, 40)}`);
    if (!Array.isArray(indices) || indices.some((i) => !Number.isInteger(i) || (i as number) < 0 || (i as number) > 23)) {
      throw badRequest('quote.invalid_pcr', `${bank}: PCR indices must be integers 0-23`);
    }
    const pcrs = [...new Set(indices as number[])].sort((a, b) => a - b);
    out[bank] = pcrs;
    count += pcrs.length;
  }
  if (count === 0) throw badRequest('quote.invalid_pcr', 'pcrSelection selects no PCR');
  return out;
}

export function parseQuoteRequest(body: unknown): { nonce: Buffer; selection: PcrSelection } {
  const b = requireObject(body, 'quote request');
  return { nonce: parseNonce(b.nonce), selection: parsePcrSelection(b.pcrSelection) };
}

/** A base64 TPM2B (u16 size prefix that matches the length), at most 2 KiB. */
function parseTpm2b(v: unknown, field: string): Buffer {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096 || !/^[A-Za-z0-9+/]+={0,2}$/.test(v) || v.length % 4 !== 0) {
    throw badRequest('activate.invalid', `${field} must be base64`);
  }
  const buf = Buffer.from(v, 'base64');
  if (buf.length < 3 || buf.readUInt16BE(0) !== buf.length - 2) {
    throw badRequest('activate.invalid', `${field} must be a TPM2B (size-prefixed) structure`);
  }
  return buf;
}

/** Digest sizes a TPM2B_DIGEST of a name algorithm can have (sha1 to sha512). */
const DIGEST_SIZES = new Set([20, 32, 48, 64]);
/** RSA EK modulus sizes (2048-4096 bits): an RSA TPM2B_ENCRYPTED_SECRET is exactly one. */
const RSA_SECRET_SIZES = new Set([256, 384, 512]);
/** ECC coordinate sizes (P-256, P-384, P-521). */
const ECC_COORD_SIZES = new Set([32, 48, 66]);

/** A u16-size-prefixed field of `buf` at `at`; undefined when it does not fit. */
function sized(buf: Buffer, at: number): { size: number; end: number } | undefined {
  if (at + 2 > buf.length) return undefined;
  const size = buf.readUInt16BE(at);
  return at + 2 + size <= buf.length ? { size, end: at + 2 + size } : undefined;
}

/**
 * TPM2B_ID_OBJECT (Part 2 §12.4.3): integrityHMAC, a TPM2B_DIGEST of a name algorithm's size, then
 * encIdentity, the encrypted TPM2B_DIGEST credential (2 to 66 bytes).
 */
function checkIdObject(buf: Buffer): void {
  const hmac = sized(buf, 2);
  const enc = hmac === undefined ? 0 : buf.length - hmac.end;
  if (hmac === undefined || !DIGEST_SIZES.has(hmac.size) || enc < 2 || enc > 66) {
    throw badRequest('activate.invalid', 'credentialBlob must be a TPM2B_ID_OBJECT (integrityHMAC of a digest size, then encIdentity)');
  }
}

/** TPM2B_ENCRYPTED_SECRET: an RSA-OAEP block of the EK's modulus size, or a TPMS_ECC_POINT (x then y). */
function checkEncryptedSecret(buf: Buffer): void {
  const size = buf.length - 2;
  if (RSA_SECRET_SIZES.has(size)) return;
  const x = sized(buf, 2);
  const y = x && sized(buf, x.end);
  if (x === undefined || y === undefined || y.end !== buf.length || !ECC_COORD_SIZES.has(x.size) || y.size !== x.size) {
    throw badRequest('activate.invalid', 'encryptedSecret must be an RSA block of 256, 384 or 512 bytes or an ECC point (x, y)');
  }
}

/**
 * POST /v1/activate: both fields are checked as the structures TPM2_ActivateCredential takes, so a
 * malformed blob is a 400 naming the field, not a TPM failure (which the API answers 503).
 */
export function parseActivateRequest(body: unknown): { idObject: Buffer; encSecret: Buffer } {
  const b = requireObject(body, 'activate request');
  const idObject = parseTpm2b(b.credentialBlob, 'credentialBlob');
  const encSecret = parseTpm2b(b.encryptedSecret, 'encryptedSecret');
  checkIdObject(idObject);
  checkEncryptedSecret(encSecret);
  return { idObject, encSecret };
}

export function parseCredentialRequest(body: unknown): CredentialFields {
  const b = requireObject(body, 'credential request');
  const pem = (field: keyof CredentialFields): string => {
    const v = b[field];
    if (typeof v !== 'string' || !v.includes('-----BEGIN ')) throw badRequest('credential.invalid', `${field} must be PEM`);
    return v;
  };
  return { certificatePem: pem('certificatePem'), privateKeyPem: pem('privateKeyPem'), caPem: pem('caPem') };
}

/** `from` of GET /v1/ima: absent → 0, else a non-negative decimal integer. */
export function parseFrom(raw: string | null): number {
  if (raw === null) return 0;
  if (!/^\d{1,9}$/.test(raw)) throw badRequest('ima.invalid_from', 'from must be a non-negative integer');
  return Number(raw);
}

export interface RoundParts { nonce: Buffer; selection: PcrSelection; imaFrom?: number; eventLog: boolean; verity: boolean }

function optionalFlag(v: unknown, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw badRequest('round.invalid', `${field} must be true or false`);
  return v;
}

function optionalImaFrom(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 999_999_999) {
    throw badRequest('ima.invalid_from', 'imaFrom must be a non-negative integer');
  }
  return v;
}

/** POST /v1/round: a quote request plus what else to read after the quote. */
export function parseRoundRequest(body: unknown): RoundParts {
  const b = requireObject(body, 'round request');
  const imaFrom = optionalImaFrom(b.imaFrom);
  return {
    nonce: parseNonce(b.nonce), selection: parsePcrSelection(b.pcrSelection),
    ...(imaFrom !== undefined && { imaFrom }),
    eventLog: optionalFlag(b.eventLog, 'eventLog'), verity: optionalFlag(b.verity, 'verity'),
  };
}
