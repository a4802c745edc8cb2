import type { Failure } from '@nodeward/attest';
import type { NodeAttestationPolicy } from '../status/resources.js';
import { joinFailure } from './join-failure.js';

/** Whether `pattern` (`*` matches any run of characters, nothing else is special) matches `name`. Pure. */
export function nodeNameMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === name;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!name.startsWith(first) || !name.endsWith(last) || name.length < first.length + last.length) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = name.indexOf(middle, at);
    if (found < 0 || found + middle.length > name.length - last.length) return false;
    at = found + middle.length;
  }
  return true;
}

export type JoinPolicyMatch = { ok: true; policy: NodeAttestationPolicy } | { ok: false; failure: Failure };

/**
 * The one policy whose `join.nodeNames` admits `nodeName` (and, when it lists `bootstrapGroups`, one of
 * the token's groups). None, or more than one, refuses the join. Pure.
 */
export function joinPolicyFor(policies: readonly NodeAttestationPolicy[], nodeName: string, tokenGroups?: readonly string[]): JoinPolicyMatch {
  const admitting = policies.filter((p) => p.metadata.deletionTimestamp === undefined && (p.spec.join?.nodeNames ?? []).some((n) => nodeNameMatches(n, nodeName)));
  if (admitting.length === 0) return { ok: false, failure: joinFailure('NoPolicy', `no NodeAttestationPolicy admits node name ${nodeName} (spec.join.nodeNames)`) };
  if (admitting.length > 1) {
    const names = admitting.map((p) => p.metadata.name).sort().join(', ');
    return { ok: false, failure: joinFailure('AmbiguousPolicy', `node name ${nodeName} is admitted by several policies (${names})`) };
  }
  const policy = admitting[0]!;
  const groups = policy.spec.join?.bootstrapGroups ?? [];
  if (tokenGroups !== undefined && groups.length > 0 && !groups.some((g) => tokenGroups.includes(g))) {
    return { ok: false, failure: joinFailure('TokenGroupNotAllowed', `policy ${policy.metadata.name} admits ${nodeName} only for bootstrap tokens in ${groups.join(', ')}`) };
  }
  return { ok: true, policy };
}
