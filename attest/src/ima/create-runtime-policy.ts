import { digestSize, HASH_ALGS } from '../hash-alg.js';
import { digestHex, isViolation, type ImaEntry } from './ima-entry.js';
import type { RuntimePolicy } from './runtime-policy.js';

/** Keylime's RUNTIME_POLICY_GENERATOR: 0 = Unknown (made by another tool, here from a log). */
const GENERATOR_UNKNOWN = 0;

/** Buffer names that are keyrings: keys measured into them go to `keyrings`, not `ima-buf`. */
function isKeyringName(name: string): boolean {
  return name.startsWith('.') || name === '_ima' || name === '_evm';
}

function add(record: Record<string, string[]>, name: string, digest: string): void {
  const list = record[name];
  if (list === undefined) record[name] = [digest];
  else if (!list.includes(digest)) list.push(digest);
}

/**
 * A Keylime runtime policy allowing exactly what a known-good log shows (as keylime_create_policy
 * does from a running system): every path with the digests it was measured with, keys per keyring,
 * other ima-buf digests per name. Violations and unknown templates are left out. `log_hash_alg` is
 * the log's template hash algorithm.
 */
export function createRuntimePolicy(entries: Iterable<ImaEntry>): RuntimePolicy {
  const digests = Object.create(null) as Record<string, string[]>;
  const keyrings = Object.create(null) as Record<string, string[]>;
  const imaBuf = Object.create(null) as Record<string, string[]>;
  let templateHashSize = 20;
  let first = true;
  for (const e of entries) {
    if (first) templateHashSize = e.templateHash.length;
    first = false;
    if (isViolation(e) || e.digestAlg === '') continue;
    const hex = digestHex(e);
    if (e.template !== 'ima-buf') add(digests, e.name, hex);
    else add(isKeyringName(e.name) ? keyrings : imaBuf, e.name, hex);
  }
  return {
    meta: { version: 1, generator: GENERATOR_UNKNOWN },
    release: 0,
    digests,
    excludes: [],
    keyrings,
    ima: { ignored_keyrings: [], log_hash_alg: HASH_ALGS.find((a) => digestSize(a) === templateHashSize) ?? 'sha1', dm_policy: null },
    'ima-buf': imaBuf,
    'verification-keys': '',
  };
}
