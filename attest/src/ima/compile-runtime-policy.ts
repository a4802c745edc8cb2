import type { HashAlgName } from '../hash-alg.js';
import { DigestsByPath } from './digests-by-path.js';
import { compileExcludes } from './exclude-matcher.js';
import { RuntimePolicyError, type RuntimePolicy } from './runtime-policy.js';
import { ImaVerificationKeys, VerificationKeysError } from './verification-keys.js';

/** A runtime policy prepared for fast evaluation: compile once, use for every round of every node. */
export interface CompiledRuntimePolicy {
  readonly policy: RuntimePolicy;
  /**
   * Allowed digests per path (keyring, buffer name) as bytes: an entry's digest is compared in place,
   * so passing entries never build a hex string (most entries of every round pass).
   */
  readonly digests: ReadonlyMap<string, readonly Buffer[]>;
  /**
   * `digests` again, keyed by each path's UTF-8 bytes: an entry's path is looked up in place in the
   * log, without decoding it to a string. Only paths that decode back to themselves are in it (not
   * ones with lone surrogates), so a hit finds exactly what `digests.get(name)` finds; a miss says
   * nothing, and the caller asks `digests` by name.
   */
  readonly digestsByPathBytes: DigestsByPath;
  readonly keyrings: ReadonlyMap<string, readonly Buffer[]>;
  readonly imaBuf: ReadonlyMap<string, readonly Buffer[]>;
  readonly ignoredKeyrings: ReadonlySet<string>;
  /** `*` in ignored_keyrings. */
  readonly ignoreAllKeyrings: boolean;
  readonly isExcluded: (path: string) => boolean;
  /**
   * `verification-keys`: an ima-sig entry whose signature verifies with one of them passes even if
   * its path or digest is not listed (Keylime's order: a valid signature, else the digest list).
   */
  readonly verificationKeys: ImaVerificationKeys;
  /**
   * What the policy asks for that is not honoured, one line each naming it (keys skipped from
   * `verification-keys`). The policy is usable; callers log or print these.
   */
  readonly warnings: readonly string[];
  /** `ima.log_hash_alg`: the template hash algorithm the list must have; undefined: read from the list. */
  readonly templateHashAlg: HashAlgName | undefined;
}

function verificationKeys(text: string): ImaVerificationKeys {
  try {
    return ImaVerificationKeys.parse(text);
  } catch (e) {
    if (e instanceof VerificationKeysError) throw new RuntimePolicyError('verification-keys', e.message);
    throw e;
  }
}

function toLists(record: Record<string, string[]>): Map<string, Buffer[]> {
  const m = new Map<string, Buffer[]>();
  for (const name of Object.keys(record)) m.set(name, [...new Set(record[name]!.map((d) => d.toLowerCase()))].map((d) => Buffer.from(d, 'hex')));
  return m;
}

function byUtf8Bytes(lists: ReadonlyMap<string, readonly Buffer[]>): DigestsByPath {
  const entries: [Buffer, readonly Buffer[]][] = [];
  for (const [name, list] of lists) {
    const bytes = Buffer.from(name, 'utf8');
    if (bytes.toString('utf8') === name) entries.push([bytes, list]);
  }
  return new DigestsByPath(entries);
}

/** Compiles a policy from parseRuntimePolicy. Throws RuntimePolicyError on a hand-built invalid one. */
export function compileRuntimePolicy(policy: RuntimePolicy): CompiledRuntimePolicy {
  let isExcluded: (path: string) => boolean;
  try {
    isExcluded = compileExcludes(policy.excludes);
  } catch (e) {
    throw new RuntimePolicyError('excludes', (e as Error).message);
  }
  const ignored = new Set(policy.ima.ignored_keyrings);
  const digests = toLists(policy.digests);
  const keys = verificationKeys(policy['verification-keys']);
  return {
    policy,
    digests,
    digestsByPathBytes: byUtf8Bytes(digests),
    keyrings: toLists(policy.keyrings),
    imaBuf: toLists(policy['ima-buf']),
    ignoredKeyrings: ignored,
    ignoreAllKeyrings: ignored.has('*'),
    isExcluded,
    verificationKeys: keys,
    warnings: keys.warnings,
    templateHashAlg: policy.ima.log_hash_alg,
  };
}
