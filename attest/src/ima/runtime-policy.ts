import { isHashAlgName, type HashAlgName } from '../hash-alg.js';
import { translateExclude } from './exclude-matcher.js';

/**
 * Keylime 7 runtime policy (keylime/ima/types.py RuntimePolicyType, format version 1):
 * allowed digests per path, exclude regexes, allowed key digests per keyring, ima-buf digests.
 */
export interface RuntimePolicy {
  meta: { version: 1; generator?: number; timestamp?: string };
  release: number;
  /** Absolute path (or `boot_aggregate`) → allowed lowercase hex digests. */
  digests: Record<string, string[]>;
  /** Python regexes matched (re.match: anchored at the start) against the path. */
  excludes: string[];
  /** Keyring name → allowed digests of the keys measured into it. */
  keyrings: Record<string, string[]>;
  /** `log_hash_alg`: the list's template hash algorithm; absent where the policy is silent (then read from the list). */
  ima: { ignored_keyrings: string[]; log_hash_alg?: HashAlgName; dm_policy: null };
  /** ima-buf entry name → allowed buffer digests. */
  'ima-buf': Record<string, string[]>;
  'verification-keys': string;
}

/** An invalid policy: which field, and why. Thrown by parseRuntimePolicy only. */
export class RuntimePolicyError extends Error {
  readonly code = 'RuntimePolicyError' as const;
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`runtime policy ${field}: ${detail}`);
    this.name = 'RuntimePolicyError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function isRuntimePolicyError(e: unknown): e is RuntimePolicyError {
  return e instanceof RuntimePolicyError;
}

const TOP_LEVEL = new Set(['meta', 'release', 'digests', 'excludes', 'keyrings', 'ima', 'ima-buf', 'verification-keys']);
/** Digest lengths of md5, sha1, sha256, sha384, sha512 (and sm3-256, streebog) in hex. */
const DIGEST_HEX = /^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$/;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function need(cond: boolean, field: string, detail: string): asserts cond {
  if (!cond) throw new RuntimePolicyError(field, detail);
}

/** A prototype-free record, so that a `__proto__` path is just a key. */
function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function stringList(v: Json, field: string): string[] {
  need(Array.isArray(v), field, 'must be an array of strings');
  return v.map((s: Json, i) => {
    need(typeof s === 'string', `${field}[${i}]`, 'must be a string');
    return s;
  });
}

function digestMap(v: Json, field: string): Record<string, string[]> {
  if (v === undefined) return dict();
  need(isObject(v), field, 'must be an object of name → digest list');
  const out = dict<string[]>();
  for (const [name, list] of Object.entries(v)) {
    const f = `${field}[${JSON.stringify(name)}]`;
    out[name] = stringList(list, f).map((d, i) => {
      need(DIGEST_HEX.test(d), `${f}[${i}]`, `not a hex digest: ${JSON.stringify(d.slice(0, 140))}`);
      return d.toLowerCase();
    });
  }
  return out;
}

function parseMeta(v: Json): RuntimePolicy['meta'] {
  need(isObject(v), 'meta', 'must be an object with version 1');
  need(v.version === 1, 'meta.version', `unsupported version ${JSON.stringify(v.version)}, expected 1`);
  const meta: RuntimePolicy['meta'] = { version: 1 };
  if (v.generator !== undefined) {
    need(Number.isInteger(v.generator), 'meta.generator', 'must be an integer');
    meta.generator = v.generator as number;
  }
  if (v.timestamp !== undefined) {
    need(typeof v.timestamp === 'string', 'meta.timestamp', 'must be a string');
    meta.timestamp = v.timestamp;
  }
  return meta;
}

function parseIma(v: Json): RuntimePolicy['ima'] {
  if (v === undefined) return { ignored_keyrings: [], dm_policy: null };
  need(isObject(v), 'ima', 'must be an object');
  const alg = v.log_hash_alg;
  need(alg === undefined || (typeof alg === 'string' && isHashAlgName(alg)), 'ima.log_hash_alg', `unsupported ${JSON.stringify(alg)}`);
  need(v.dm_policy === undefined || v.dm_policy === null, 'ima.dm_policy', 'device-mapper policies are not supported');
  const ignored = v.ignored_keyrings === undefined ? [] : stringList(v.ignored_keyrings, 'ima.ignored_keyrings');
  return { ignored_keyrings: ignored, ...(alg === undefined ? {} : { log_hash_alg: alg }), dm_policy: null };
}

function parseExcludes(v: Json): string[] {
  if (v === undefined) return [];
  const list = stringList(v, 'excludes');
  list.forEach((p, i) => {
    const err = translateExclude(p).error;
    need(err === undefined, `excludes[${i}]`, `invalid regex ${JSON.stringify(p.slice(0, 140))}: ${err}`);
  });
  return list;
}

/**
 * Validates a Keylime runtime policy (a JSON string or an already parsed value) into a typed one.
 * Missing optional sections get Keylime's defaults. Throws only RuntimePolicyError.
 */
export function parseRuntimePolicy(input: unknown): RuntimePolicy {
  let v: Json = input;
  // A string is JSON text; anything else is an already parsed value.
  if (typeof input === 'string') {
    try {
      v = JSON.parse(input);
    } catch (e) {
      throw new RuntimePolicyError('$', `not JSON: ${(e as Error).message}`);
    }
  }
  need(isObject(v), '$', 'must be a JSON object');
  for (const k of Object.keys(v)) need(TOP_LEVEL.has(k), k, 'unknown field');
  const release = v.release ?? 0;
  need(Number.isInteger(release), 'release', 'must be an integer');
  const keys = v['verification-keys'] ?? '';
  need(typeof keys === 'string', 'verification-keys', 'must be a string');
  return {
    meta: parseMeta(v.meta),
    release: release as number,
    digests: digestMap(v.digests, 'digests'),
    excludes: parseExcludes(v.excludes),
    keyrings: digestMap(v.keyrings, 'keyrings'),
    ima: parseIma(v.ima),
    'ima-buf': digestMap(v['ima-buf'], 'ima-buf'),
    'verification-keys': keys,
  };
}
