import { failure, type Failure } from '../failure.js';
import type { CompiledRuntimePolicy } from './compile-runtime-policy.js';
import { digestHex, digestIs, ImaEntryView, isKnownTemplate, type ImaEntry } from './ima-entry.js';

/**
 * Runtime policy evaluation of one (non-violation) entry, as Keylime's ima.py does it:
 * - a path matched by an exclude passes;
 * - otherwise the path must be in `digests` and its file digest among the listed ones;
 * - an ima-buf entry measuring a key into a keyring is checked against `keyrings` unless the keyring
 *   is ignored (`*` ignores all); any other ima-buf entry against `ima-buf`.
 * Signature checks of ima-sig entries (`verification-keys`) are not done: ima-sig entries are held
 * to the digest list like ima-ng ones, which is stricter, never laxer, than Keylime.
 */

/** Keyrings the kernel measures keys of (`measure func=KEY_CHECK`). */
const KNOWN_KEYRINGS = new Set(['.ima', '.evm', '.builtin_trusted_keys', '.secondary_trusted_keys', '.platform',
  '.machine', '.blacklist', '_ima', '_evm']);

interface Kind {
  readonly missing: Failure['id'];
  readonly wrong: Failure['id'];
  readonly what: string;
}
const FILE: Kind = { missing: 'ima.path_not_in_policy', wrong: 'ima.digest_not_allowed', what: 'path' };
const KEYRING: Kind = { missing: 'ima.keyring_not_in_policy', wrong: 'ima.keyring_digest_not_allowed', what: 'keyring' };
const BUFFER: Kind = { missing: 'ima.buf_not_in_policy', wrong: 'ima.buf_digest_not_allowed', what: 'ima-buf name' };

function context(e: ImaEntry, digest: string): Failure['context'] {
  return { index: e.index, path: e.name, template: e.template, digest: e.digestAlg ? `${e.digestAlg}:${digest}` : digest };
}

/** Is this ima-buf entry a key measured into a keyring (Keylime: is the buffer a public key)? */
function isKeyEntry(e: ImaEntry, p: CompiledRuntimePolicy): boolean {
  if (KNOWN_KEYRINGS.has(e.name) || p.keyrings.has(e.name) || p.ignoredKeyrings.has(e.name)) return true;
  const b = e.buf;
  return b !== undefined && b.length > 4 && b[0] === 0x30 && b[1] === 0x82; // a DER SEQUENCE: a certificate
}

function isAllowed(e: ImaEntry, list: readonly Buffer[]): boolean {
  for (const d of list) if (digestIs(e, d)) return true;
  return false;
}

/**
 * A parsed file entry whose path, looked up by its bytes, lists its digest: it passes whatever the
 * excludes say (an excluded path passes too), so this is checked first and makes no string. False
 * is no verdict: the caller goes on with the checks by name.
 */
function allowedByPathBytes(e: ImaEntry, p: CompiledRuntimePolicy): boolean {
  if (!(e instanceof ImaEntryView) || e.template === 'ima-buf') return false;
  return p.digestsByPathBytes.allows(e.srcView, e.nameAt, e.nameAt + e.nameLen, e.digAt, e.digLen);
}

function check(e: ImaEntry, allowed: ReadonlyMap<string, readonly Buffer[]>, kind: Kind, out: Failure[]): void {
  const list = allowed.get(e.name);
  if (list !== undefined && isAllowed(e, list)) return;
  const hex = digestHex(e);
  if (list === undefined) {
    out.push(failure(kind.missing, `entry ${e.index}: ${kind.what} ${e.name} is not in the runtime policy`, context(e, hex)));
  } else {
    out.push(failure(kind.wrong, `entry ${e.index}: digest of ${kind.what} ${e.name} is not allowed`, context(e, hex)));
  }
}

/** Appends the policy failures of one entry to `out` (no allocation when it passes). */
export function evaluateImaEntry(
  e: ImaEntry,
  p: CompiledRuntimePolicy,
  out: Failure[],
  bootAggregates?: () => ReadonlySet<string>,
): void {
  if (!isKnownTemplate(e.template)) {
    out.push(failure('ima.unsupported_template', `entry ${e.index}: template ${e.template} is not supported`,
      { index: e.index, template: e.template }));
    return;
  }
  if (allowedByPathBytes(e, p) || p.isExcluded(e.name)) return;
  if (e.template !== 'ima-buf') {
    if (bootAggregates !== undefined && e.name === 'boot_aggregate' && bootAggregates().has(digestHex(e))) return;
    check(e, p.digests, FILE, out);
  } else if (isKeyEntry(e, p)) {
    if (!p.ignoreAllKeyrings && !p.ignoredKeyrings.has(e.name)) check(e, p.keyrings, KEYRING, out);
  } else {
    check(e, p.imaBuf, BUFFER, out);
  }
}
