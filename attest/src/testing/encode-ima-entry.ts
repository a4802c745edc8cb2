import { hash } from '../hash-alg.js';
import type { ImaTemplateHashAlg } from '../ima/ima-entry.js';
import { digestNgField, imaTemplateHashInput, lengthPrefixed, nameNgField } from '../ima/template-fields.js';

/**
 * Writers of binary_runtime_measurements entries, byte for byte as the kernel shows them, for tests
 * and simulated nodes. Names are written as given (the kernel would already have replaced spaces).
 */

export interface EncodedImaEntry {
  /** The entry as it appears in binary_runtime_measurements. */
  readonly bytes: Buffer;
  /** Its template hash (all zero for a violation). */
  readonly templateHash: Buffer;
  /** The bytes the PCR banks are extended with the hash of. */
  readonly hashInput: Buffer;
}

export interface ImaNgEntryInput {
  path: string;
  fileDigest: Uint8Array;
  /** Default sha256. */
  fileDigestAlg?: string;
  /** Default 10. */
  pcr?: number;
}

export interface ImaBufEntryInput {
  name: string;
  buf: Uint8Array;
  /** Default sha256. */
  digestAlg?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  pcr?: number;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

function entry(pcr: number, template: string, templateHash: Buffer, body: Buffer): Buffer {
  const name = Buffer.from(template, 'latin1');
  return Buffer.concat([u32le(pcr), templateHash, u32le(name.length), name, body]);
}

/** A template with a data length: pcr | hash | name | u32le len | data. */
function withData(pcr: number, template: string, data: Buffer, alg: ImaTemplateHashAlg, violation = false): EncodedImaEntry {
  const templateHash = violation ? Buffer.alloc(alg === 'sha1' ? 20 : 32) : hash(alg, data);
  return { bytes: entry(pcr, template, templateHash, lengthPrefixed(data)), templateHash, hashInput: data };
}

export function encodeImaNgEntry(input: ImaNgEntryInput, templateHashAlg: ImaTemplateHashAlg = 'sha1'): EncodedImaEntry {
  const data = Buffer.concat([digestNgField(input.fileDigestAlg ?? 'sha256', input.fileDigest), nameNgField(input.path)]);
  return withData(input.pcr ?? 10, 'ima-ng', data, templateHashAlg);
}

export function encodeImaSigEntry(input: ImaNgEntryInput & { sig: Uint8Array }, templateHashAlg: ImaTemplateHashAlg = 'sha1'): EncodedImaEntry {
  const data = Buffer.concat([digestNgField(input.fileDigestAlg ?? 'sha256', input.fileDigest), nameNgField(input.path), lengthPrefixed(input.sig)]);
  return withData(input.pcr ?? 10, 'ima-sig', data, templateHashAlg);
}

/** ima-buf: the digest is computed over the buffer, as the kernel does. */
export function encodeImaBufEntry(input: ImaBufEntryInput, templateHashAlg: ImaTemplateHashAlg = 'sha1'): EncodedImaEntry {
  const alg = input.digestAlg ?? 'sha256';
  const data = Buffer.concat([digestNgField(alg, hash(alg, input.buf)), nameNgField(input.name), lengthPrefixed(input.buf)]);
  return withData(input.pcr ?? 10, 'ima-buf', data, templateHashAlg);
}

/** A violation as IMA logs it: ima-ng with a zero file digest and an all-zero template hash. */
export function encodeImaViolationEntry(input: { path: string; fileDigestAlg?: 'sha1' | 'sha256'; pcr?: number }, templateHashAlg: ImaTemplateHashAlg = 'sha1'): EncodedImaEntry {
  const alg = input.fileDigestAlg ?? 'sha256';
  const data = Buffer.concat([digestNgField(alg, Buffer.alloc(alg === 'sha1' ? 20 : 32)), nameNgField(input.path)]);
  return withData(input.pcr ?? 10, 'ima-ng', data, templateHashAlg, true);
}

/** The legacy `ima` template: sha1 digest and a name of at most 255 bytes. */
export function encodeImaTemplateEntry(input: { path: string; sha1Digest: Uint8Array; pcr?: number }, templateHashAlg: ImaTemplateHashAlg = 'sha1'): EncodedImaEntry {
  const name = Buffer.from(input.path, 'utf8');
  const hashInput = imaTemplateHashInput(input.sha1Digest, name);
  const templateHash = hash(templateHashAlg, hashInput);
  const body = Buffer.concat([input.sha1Digest, u32le(name.length), name]);
  return { bytes: entry(input.pcr ?? 10, 'ima', templateHash, body), templateHash, hashInput };
}
