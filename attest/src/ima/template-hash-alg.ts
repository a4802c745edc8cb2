import { failure, type Failure } from '../failure.js';
import { digestSize, HASH_ALGS, type HashAlgName } from '../hash-alg.js';
import { IMA_LIMITS } from './ima-entry.js';
import type { ImaLogFormat } from './parse-ima-log.js';

/**
 * The template hash algorithm of a measurement list: sha1 for the classic
 * `*_runtime_measurements`, sha256 (or another bank's) for the kernel's `*_runtime_measurements_sha256`
 * lists. Keylime's runtime policy names it (`ima.log_hash_alg`); where the policy is silent it is
 * read from the list: the hex width of the ASCII column, or the one digest length after which the
 * first binary entry's template name is a template name.
 */

const TEMPLATE_NAME_BYTE = /^[a-z0-9_-]$/;

function binaryFits(bytes: Uint8Array, size: number): boolean {
  const at = 4 + size;
  if (bytes.length < at + 4) return false;
  const len = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32LE(at);
  if (len === 0 || len > IMA_LIMITS.templateNameMax || bytes.length < at + 4 + len) return false;
  for (let i = at + 4; i < at + 4 + len; i++) if (!TEMPLATE_NAME_BYTE.test(String.fromCharCode(bytes[i]!))) return false;
  return true;
}

function asciiColumnBytes(bytes: Uint8Array): number | undefined {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 512)).toString('latin1');
  const m = /^\s*\d+ ([0-9a-fA-F]+) /.exec(text);
  return m === null ? undefined : m[1]!.length / 2;
}

/** Algorithms whose template hash length fits the first entry; [] for an empty or unreadable list. */
export function plausibleTemplateHashAlgs(bytes: Uint8Array, format: ImaLogFormat): HashAlgName[] {
  if (format === 'ascii') {
    const size = asciiColumnBytes(bytes);
    return HASH_ALGS.filter((a) => digestSize(a) === size);
  }
  return HASH_ALGS.filter((a) => binaryFits(bytes, digestSize(a)));
}

/**
 * The algorithm to read this list with, or the failure when the policy names another than the
 * list has (Keylime fails such a list too). `given` is what the caller knows of the list (a CLI
 * flag); `policy` is the runtime policy's `ima.log_hash_alg`, undefined where it is silent.
 */
export function templateHashAlgFor(bytes: Uint8Array, format: ImaLogFormat, policy?: HashAlgName, given?: HashAlgName): HashAlgName | Failure {
  const plausible = given === undefined ? plausibleTemplateHashAlgs(bytes, format) : [given];
  const list = policy !== undefined && (plausible.length === 0 || plausible.includes(policy)) ? policy : (plausible[0] ?? 'sha1');
  if (policy === undefined || list === policy) return list;
  return logHashAlgMismatch(policy, list);
}

/** The policy names another template hash algorithm than the list has. */
export function logHashAlgMismatch(policy: HashAlgName, list: HashAlgName): Failure {
  return failure('ima.log_hash_alg_mismatch',
    `the runtime policy's ima.log_hash_alg is ${policy}, but the list's template hashes are ${list}`, { policy, list });
}
