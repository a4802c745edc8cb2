import { compileExcludes } from './exclude-matcher.js';
import { RuntimePolicyError, type RuntimePolicy } from './runtime-policy.js';

/** A runtime policy prepared for fast evaluation: compile once, use for every round of every node. */
export interface CompiledRuntimePolicy {
  readonly policy: RuntimePolicy;
  readonly digests: ReadonlyMap<string, ReadonlySet<string>>;
  readonly keyrings: ReadonlyMap<string, ReadonlySet<string>>;
  readonly imaBuf: ReadonlyMap<string, ReadonlySet<string>>;
  readonly ignoredKeyrings: ReadonlySet<string>;
  /** `*` in ignored_keyrings. */
  readonly ignoreAllKeyrings: boolean;
  readonly isExcluded: (path: string) => boolean;
}

function toSets(record: Record<string, string[]>): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  for (const name of Object.keys(record)) m.set(name, new Set(record[name]!.map((d) => d.toLowerCase())));
  return m;
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
  return {
    policy,
    digests: toSets(policy.digests),
    keyrings: toSets(policy.keyrings),
    imaBuf: toSets(policy['ima-buf']),
    ignoredKeyrings: ignored,
    ignoreAllKeyrings: ignored.has('*'),
    isExcluded,
  };
}
