import { failure, type Failure } from '../failure.js';
import type { CompiledRuntimePolicy } from './compile-runtime-policy.js';
import type { ImaFailureId } from './ima-failure.js';
import { digestHex, digestIs, ImaEntryView, isKnownTemplate, type ImaEntry } from './ima-entry.js';
import { SignatureBudget, type SignatureCheck } from './verification-keys.js';

/**
 * Runtime policy evaluation of one (non-violation) entry, as Keylime's ima.py does it:
 * - a path matched by an exclude passes;
 * - otherwise the path must be in `digests` and its file digest among the listed ones;
 * - an ima-buf entry measuring a key into a keyring is checked against `keyrings` unless the keyring
 *   is ignored (`*` ignores all); any other ima-buf entry against `ima-buf`.
 * - an ima-sig entry with a signature that verifies with one of the policy's `verification-keys`
 *   passes; one whose signature does not is held to `digests` (the failure says why the signature
 *   did not count). Keylime also trusts keys the log itself loads into a keyring (ima-buf key
 *   entries the policy allows); we do not, so such entries are held to `digests`: stricter, never laxer.
 */

/** Keyrings the kernel measures keys of (`measure func=KEY_CHECK`). */
const KNOWN_KEYRINGS = new Set(['.ima', '.evm', '.builtin_trusted_keys', '.secondary_trusted_keys', '.platform',
  '.machine', '.blacklist', '_ima', '_evm']);

interface Kind {
  readonly missing: ImaFailureId;
  readonly wrong: ImaFailureId;
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

function check(e: ImaEntry, allowed: ReadonlyMap<string, readonly Buffer[]>, kind: Kind, out: Failure[], signature?: SignatureCheck): void {
  const list = allowed.get(e.name);
  if (list !== undefined && isAllowed(e, list)) return;
  const hex = digestHex(e);
  const problem = typeof signature === 'object' ? signature.problem : undefined;
  const why = problem === undefined ? '' : ` (its signature does not count: ${problem})`;
  const ctx = problem === undefined ? context(e, hex) : { ...context(e, hex), signature: problem };
  if (list === undefined) {
    out.push(failure(kind.missing, `entry ${e.index}: ${kind.what} ${e.name} is not in the runtime policy${why}`, ctx));
  } else {
    out.push(failure(kind.wrong, `entry ${e.index}: digest of ${kind.what} ${e.name} is not allowed${why}`, ctx));
  }
}

/** The signature check of an ima-sig entry, when the policy has keys and the entry a signature. */
function signatureCheck(e: ImaEntry, p: CompiledRuntimePolicy, budget: SignatureBudget): SignatureCheck | undefined {
  if (e.template !== 'ima-sig' || (p.verificationKeys.size === 0 && p.verificationKeys.skipped.length === 0)) return undefined;
  const sig = e.sig;
  if (sig === undefined || sig.length === 0) return undefined;
  return p.verificationKeys.check(sig, e.digestAlg, e.digest, budget);
}

/** A file entry (not excluded, not found by its path bytes): boot_aggregate, its signature, then `digests`. */
function checkFile(e: ImaEntry, p: CompiledRuntimePolicy, out: Failure[], bootAggregates: (() => ReadonlySet<string>) | undefined, signatures: SignatureBudget): void {
  if (bootAggregates !== undefined && e.name === 'boot_aggregate' && bootAggregates().has(digestHex(e))) return;
  const signature = signatureCheck(e, p, signatures);
  if (signature !== 'verified') check(e, p.digests, FILE, out, signature);
}

/**
 * Appends the policy failures of one entry to `out` (no allocation when it passes). `signatures`
 * bounds the failed signature checks of one batch: pass one object for all of a batch's entries.
 */
export function evaluateImaEntry(
  e: ImaEntry,
  p: CompiledRuntimePolicy,
  out: Failure[],
  bootAggregates?: () => ReadonlySet<string>,
  signatures: SignatureBudget = new SignatureBudget(),
): void {
  if (!isKnownTemplate(e.template)) {
    out.push(failure('ima.unsupported_template', `entry ${e.index}: template ${e.template} is not supported`,
      { index: e.index, template: e.template }));
    return;
  }
  if (allowedByPathBytes(e, p) || p.isExcluded(e.name)) return;
  if (e.template !== 'ima-buf') {
    checkFile(e, p, out, bootAggregates, signatures);
  } else if (isKeyEntry(e, p)) {
    if (!p.ignoreAllKeyrings && !p.ignoredKeyrings.has(e.name)) check(e, p.keyrings, KEYRING, out);
  } else {
    check(e, p.imaBuf, BUFFER, out);
  }
}
