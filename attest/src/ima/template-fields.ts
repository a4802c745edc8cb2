import { bytesAt } from '../binary/bytes.js';
import type { ByteReader } from '../binary/reader.js';
import { digestSize, isHashAlgName } from '../hash-alg.js';
import { IMA_LIMITS, IMA_TEMPLATE_NAME_FIELD, type ImaEntryView } from './ima-entry.js';

/**
 * Template fields (linux ima_template_lib.c) read from and written to their binary form. Readers
 * take a ByteReader positioned on the field so that every error carries the absolute offset.
 */

const COLON = 0x3a;
const ALG_CHARS = /^[a-z0-9_:-]+$/;

/** "<alg>:\0" prefixes of the usual algorithms, matched byte-wise before any string is made. */
const KNOWN_PREFIXES = (['sha256', 'sha1', 'sha384', 'sha512'] as const).map((alg) => ({
  alg,
  prefix: Buffer.from(`${alg}:\0`, 'latin1'),
  size: digestSize(alg),
}));

/**
 * d-ng: u32le length | "<alg>:\0" | digest, into e.digestAlg / e.digAt / e.digLen.
 * A d-ng without the prefix is a bare sha1 (20 bytes) or md5 (16) digest.
 */
export function readDigestNg(d: ByteReader, src: Buffer, e: ImaEntryView): void {
  const len = d.u32le('d-ng.length');
  const at = d.skip(len, 'd-ng');
  for (const k of KNOWN_PREFIXES) {
    if (len === k.prefix.length + k.size && bytesAt(src, at, k.prefix)) {
      e.digestAlg = k.alg;
      e.digAt = at + k.prefix.length;
      e.digLen = k.size;
      return;
    }
  }
  const sep = findSeparator(src, at, len);
  e.digestAlg = sep < 0 ? legacyAlg(len, d, at) : src.toString('latin1', at, sep);
  e.digAt = sep < 0 ? at : sep + 2;
  e.digLen = at + len - e.digAt;
  const problem = digestProblem(e.digestAlg, e.digLen);
  if (problem !== undefined) d.fail(problem, at);
}

/** Position of the ":\0" ending the algorithm name, or -1. */
function findSeparator(src: Buffer, at: number, len: number): number {
  const limit = at + Math.min(len - 1, IMA_LIMITS.digestAlgMax + 1);
  for (let i = at + 1; i < limit; i++) if (src[i] === COLON && src[i + 1] === 0) return i;
  return -1;
}

function legacyAlg(len: number, r: ByteReader, at: number): string {
  if (len === 20) return 'sha1';
  if (len === 16) return 'md5';
  return r.fail(`d-ng without "<alg>:" prefix has ${len} bytes, not a sha1 or md5 digest`, at);
}

/** Why a file digest with this algorithm and length is implausible, or undefined when it is fine. */
export function digestProblem(alg: string, len: number): string | undefined {
  // The usual case (every line of an ASCII list): a plain algorithm name, no pattern to match.
  if (isHashAlgName(alg)) return len === digestSize(alg) ? undefined : `d-ng ${alg} digest has ${len} bytes, expected ${digestSize(alg)}`;
  if (alg.length > IMA_LIMITS.digestAlgMax || !ALG_CHARS.test(alg)) {
    return `d-ng algorithm name is not printable: ${JSON.stringify(alg.slice(0, 80))}`;
  }
  // d-ngv2 prefixes the algorithm with the digest type (`ima:sha256`, `verity:sha256`).
  const base = alg.slice(alg.lastIndexOf(':') + 1);
  const want = isHashAlgName(base) ? digestSize(base) : undefined;
  if (want !== undefined ? len !== want : len < 16 || len > IMA_LIMITS.digestMax) {
    return `d-ng ${alg} digest has ${len} bytes${want !== undefined ? `, expected ${want}` : ''}`;
  }
  return undefined;
}

/** n-ng: u32le length | name | NUL, into e.nameAt / e.nameLen (without the NUL). */
export function readNameNg(d: ByteReader, src: Buffer, e: ImaEntryView): void {
  const len = d.u32le('n-ng.length');
  const at = d.skip(len, 'n-ng');
  if (len === 0 || src[at + len - 1] !== 0) d.fail('n-ng is not NUL-terminated', at);
  e.nameAt = at;
  e.nameLen = len - 1;
}

/** sig or buf: u32le length | bytes, into e.extraAt / e.extraLen. */
export function readExtra(d: ByteReader, e: ImaEntryView, kind: 'sig' | 'buf'): void {
  const len = d.u32le(`${kind}.length`);
  e.extraAt = d.skip(len, kind);
  e.extraLen = len;
  e.extraKind = kind;
}

function u32le(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** Length-prefixed field. */
export function lengthPrefixed(bytes: Uint8Array): Buffer {
  return Buffer.concat([u32le(bytes.length), bytes]);
}

export function digestNgField(alg: string, digest: Uint8Array): Buffer {
  return lengthPrefixed(Buffer.concat([Buffer.from(`${alg}:\0`, 'latin1'), digest]));
}

export function nameNgField(name: string): Buffer {
  return lengthPrefixed(Buffer.from(`${name}\0`, 'utf8'));
}

/**
 * What the kernel hashes for the legacy `ima` template: the 20-byte digest, then the name
 * zero-padded to IMA_EVENT_NAME_LEN_MAX + 1 bytes, with no length fields
 * (ima_calc_field_array_hash_tfm).
 */
export function imaTemplateHashInput(digest: Uint8Array, name: Uint8Array): Buffer {
  const out = Buffer.alloc(digest.length + IMA_TEMPLATE_NAME_FIELD);
  out.set(digest, 0);
  out.set(name, digest.length);
  return out;
}
