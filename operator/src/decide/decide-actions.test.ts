import type { EnforcementStatus, NodeAttestationPolicySpec } from '../status/resources.js';
import { actionsFor, releaseActions } from './actions.js';
import { decideActions, type CurrentState, type DecisionInput } from './decide-actions.js';

type Spec = Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure' | 'onUnreachable' | 'recovery'>;
const enforceAll: Spec = {
  mode: 'Enforce',
  onFailure: { taint: { effect: 'NoExecute' }, cordon: true, revokeCredentials: true },
  onUnreachable: { afterMisses: 3, taint: { effect: 'NoSchedule' } },
  recovery: 'Automatic',
};
const manual: Spec = { ...enforceAll, recovery: 'Manual' };
const audit: Spec = { mode: 'Audit', onUnreachable: { afterMisses: 2 } };
const taintOnly: Spec = { mode: 'Enforce', onFailure: { taint: { effect: 'NoSchedule' } } };

const none = { tainted: false, cordoned: false, drained: false, credentialsRevoked: false };
const all = { tainted: true, cordoned: true, drained: false, credentialsRevoked: true };
const NOW = new Date('2026-01-01T00:00:00Z');
const st = (p: Partial<CurrentState>): CurrentState => ({
  now: NOW, phase: 'Trusted', enforcement: none, consecutiveMisses: 0, identityHold: false, recoverRequested: false, awaitingRecovery: false, conflict: false, stale: false, ...p,
});
const pass: DecisionInput = { kind: 'verdict', trusted: true, failures: [] };
const fail: DecisionInput = { kind: 'verdict', trusted: false, failures: [{ id: 'ima.digest_not_allowed', message: '/usr/bin/x' }] };
const miss: DecisionInput = { kind: 'unreachable', error: 'ECONNREFUSED' };
const idChanged: DecisionInput = { kind: 'identity-changed', failures: [{ id: 'identity.ak_changed', message: 'AK differs' }] };
const reconcile: DecisionInput = { kind: 'reconcile' };

interface Row {
  name: string;
  spec: Spec;
  input: DecisionInput;
  current: CurrentState;
  phase: string | undefined;
  enforcement: object;
  misses: number;
  trusted?: [string, string] | null;
  events: string[];
  clear?: boolean;
}

const rows: Row[] = [
  // Enforce, failures
  { name: 'enforce: first failure applies onFailure', spec: enforceAll, input: fail, current: st({}), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  { name: 'enforce: repeated failure emits no new event', spec: enforceAll, input: fail, current: st({ phase: 'Untrusted', enforcement: all }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AttestationFailed'], events: [] },
  { name: 'enforce: taint-only policy', spec: taintOnly, input: fail, current: st({ phase: 'Registered', enforcement: undefined }), phase: 'Untrusted', enforcement: { tainted: true, cordoned: false, drained: false, credentialsRevoked: false }, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  { name: 'enforce: failure resets misses', spec: enforceAll, input: fail, current: st({ consecutiveMisses: 2 }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  { name: 'enforce: identity change is untrusted with IdentityChanged', spec: enforceAll, input: idChanged, current: st({}), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'IdentityChanged'], events: ['IdentityChanged'] },
  { name: 'enforce: identity change on an already-failing node still alerts once', spec: enforceAll, input: idChanged, current: st({ phase: 'Untrusted', enforcement: all }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'IdentityChanged'], events: ['IdentityChanged'] },
  { name: 'enforce: identity change repeated', spec: enforceAll, input: idChanged, current: st({ phase: 'Untrusted', enforcement: all, identityHold: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'IdentityChanged'], events: [] },
  { name: 'enforce: drain asked for is recorded with the rest', spec: { mode: 'Enforce', onFailure: { cordon: true, drain: {} } }, input: fail, current: st({}), phase: 'Untrusted', enforcement: { tainted: false, cordoned: true, drained: true, credentialsRevoked: false }, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  // Misses
  { name: 'miss 1 of 3 keeps phase', spec: enforceAll, input: miss, current: st({}), phase: 'Trusted', enforcement: none, misses: 1, trusted: null, events: [] },
  { name: 'miss 2 of 3 keeps phase', spec: enforceAll, input: miss, current: st({ consecutiveMisses: 1 }), phase: 'Trusted', enforcement: none, misses: 2, trusted: null, events: [] },
  { name: 'miss 3 of 3 is Unreachable with onUnreachable actions', spec: enforceAll, input: miss, current: st({ consecutiveMisses: 2 }), phase: 'Unreachable', enforcement: { tainted: true, cordoned: false, drained: false, credentialsRevoked: false }, misses: 3, trusted: ['Unknown', 'AgentUnreachable'], events: ['AgentUnreachable'] },
  { name: 'further misses while Unreachable: no new event', spec: enforceAll, input: miss, current: st({ phase: 'Unreachable', consecutiveMisses: 3, enforcement: { tainted: true } }), phase: 'Unreachable', enforcement: { tainted: true, cordoned: false, drained: false, credentialsRevoked: false }, misses: 4, trusted: ['Unknown', 'AgentUnreachable'], events: [] },
  { name: 'default afterMisses is 3', spec: taintOnly, input: miss, current: st({ consecutiveMisses: 1 }), phase: 'Trusted', enforcement: none, misses: 2, trusted: null, events: [] },
  { name: 'misses on an Untrusted node keep it Untrusted and its actions', spec: enforceAll, input: miss, current: st({ phase: 'Untrusted', enforcement: all, consecutiveMisses: 5 }), phase: 'Untrusted', enforcement: all, misses: 6, trusted: null, events: [] },
  { name: 'misses on a registered node', spec: enforceAll, input: miss, current: st({ phase: 'Registered', consecutiveMisses: 2 }), phase: 'Unreachable', enforcement: { tainted: true, cordoned: false, drained: false, credentialsRevoked: false }, misses: 3, trusted: ['Unknown', 'AgentUnreachable'], events: ['AgentUnreachable'] },
  // Passing rounds, recovery Automatic
  { name: 'first pass after registration', spec: enforceAll, input: pass, current: st({ phase: 'Registered' }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: [] },
  { name: 'steady pass', spec: enforceAll, input: pass, current: st({}), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: [] },
  { name: 'pass resets misses', spec: enforceAll, input: pass, current: st({ consecutiveMisses: 2 }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: [] },
  { name: 'automatic recovery from Untrusted lifts everything', spec: enforceAll, input: pass, current: st({ phase: 'Untrusted', enforcement: all }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: ['AttestationRecovered'] },
  { name: 'automatic recovery from Unreachable', spec: enforceAll, input: pass, current: st({ phase: 'Unreachable', enforcement: { tainted: true }, consecutiveMisses: 7 }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: ['AttestationRecovered'] },
  { name: 'identity hold: a pass does not recover', spec: enforceAll, input: pass, current: st({ phase: 'Untrusted', enforcement: all, identityHold: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'IdentityChanged'], events: [] },
  // Recovery Manual
  { name: 'manual: pass without annotation holds', spec: manual, input: pass, current: st({ phase: 'Untrusted', enforcement: all }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AwaitingManualRecovery'], events: [] },
  { name: 'manual: pass with annotation recovers and clears it', spec: manual, input: pass, current: st({ phase: 'Untrusted', enforcement: all, recoverRequested: true }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: ['AttestationRecovered'], clear: true },
  { name: 'manual: Unreachable also waits', spec: manual, input: pass, current: st({ phase: 'Unreachable', enforcement: { tainted: true } }), phase: 'Unreachable', enforcement: { tainted: true }, misses: 0, trusted: ['False', 'AwaitingManualRecovery'], events: [] },
  { name: 'manual: annotation on a held passing node recovers at reconcile', spec: manual, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all, recoverRequested: true, awaitingRecovery: true }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: ['AttestationRecovered'], clear: true },
  { name: 'manual: annotation on a still-failing node waits for a pass', spec: manual, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all, recoverRequested: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: null, events: [] },
  { name: 'manual: failure with annotation keeps enforcement', spec: manual, input: fail, current: st({ phase: 'Untrusted', enforcement: all, recoverRequested: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AttestationFailed'], events: [] },
  { name: 'manual: healthy node is never held', spec: manual, input: pass, current: st({}), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: [] },
  { name: 'manual: identity hold ignores annotation', spec: manual, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all, recoverRequested: true, awaitingRecovery: true, identityHold: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: null, events: [] },
  // Audit
  { name: 'audit: failure is recorded, no enforcement', spec: audit, input: fail, current: st({}), phase: 'Untrusted', enforcement: none, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  { name: 'audit: unreachable after its afterMisses', spec: audit, input: miss, current: st({ consecutiveMisses: 1 }), phase: 'Unreachable', enforcement: none, misses: 2, trusted: ['Unknown', 'AgentUnreachable'], events: ['AgentUnreachable'] },
  { name: 'audit: recovery', spec: audit, input: pass, current: st({ phase: 'Untrusted' }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: ['AttestationRecovered'] },
  { name: 'audit: switching from Enforce drops intended enforcement', spec: audit, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all }), phase: 'Untrusted', enforcement: none, misses: 0, trusted: null, events: [] },
  { name: 'audit: identity change recorded', spec: audit, input: idChanged, current: st({}), phase: 'Untrusted', enforcement: none, misses: 0, trusted: ['False', 'IdentityChanged'], events: ['IdentityChanged'] },
  // Conflict: two policies select the node (fail closed: never Trusted, a compromise still caught)
  { name: 'conflict: a Trusted node leaves Trusted at reconcile', spec: enforceAll, input: reconcile, current: st({ conflict: true }), phase: 'Conflict', enforcement: none, misses: 0, trusted: ['False', 'MultiplePolicies'], events: [] },
  { name: 'conflict: a passing round keeps it in Conflict', spec: enforceAll, input: pass, current: st({ phase: 'Conflict', conflict: true }), phase: 'Conflict', enforcement: none, misses: 0, trusted: ['False', 'MultiplePolicies'], events: [] },
  { name: 'conflict: a failing round makes it Untrusted and enforced', spec: enforceAll, input: fail, current: st({ phase: 'Conflict', conflict: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  { name: 'conflict: an Untrusted node is not recovered by a pass', spec: enforceAll, input: pass, current: st({ phase: 'Untrusted', enforcement: all, conflict: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'MultiplePolicies'], events: [] },
  { name: 'conflict: an Untrusted node stays Untrusted at reconcile', spec: enforceAll, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all, conflict: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: null, events: [] },
  { name: 'conflict resolved: the next pass trusts it again', spec: enforceAll, input: pass, current: st({ phase: 'Conflict' }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: [] },
  { name: 'conflict resolved: reconcile alone does not trust it', spec: enforceAll, input: reconcile, current: st({ phase: 'Conflict' }), phase: 'Conflict', enforcement: none, misses: 0, trusted: null, events: [] },
  // Freshness: no passing round within the window
  { name: 'stale: a Trusted node becomes Stale', spec: enforceAll, input: reconcile, current: st({ stale: true }), phase: 'Stale', enforcement: none, misses: 0, trusted: ['Unknown', 'RoundsStale'], events: ['AttestationStale'] },
  { name: 'stale: an Untrusted node keeps its phase and enforcement', spec: enforceAll, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all, stale: true }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: null, events: [] },
  { name: 'stale: a passing round trusts it again', spec: enforceAll, input: pass, current: st({ phase: 'Stale' }), phase: 'Trusted', enforcement: none, misses: 0, trusted: ['True', 'AttestationPassed'], events: [] },
  { name: 'stale: a failing round makes it Untrusted', spec: enforceAll, input: fail, current: st({ phase: 'Stale' }), phase: 'Untrusted', enforcement: all, misses: 0, trusted: ['False', 'AttestationFailed'], events: ['AttestationFailed'] },
  { name: 'stale and in conflict: Conflict', spec: enforceAll, input: reconcile, current: st({ stale: true, conflict: true }), phase: 'Conflict', enforcement: none, misses: 0, trusted: ['False', 'MultiplePolicies'], events: [] },
  // Reconcile without news
  { name: 'reconcile keeps state', spec: enforceAll, input: reconcile, current: st({ phase: 'Untrusted', enforcement: all, consecutiveMisses: 1 }), phase: 'Untrusted', enforcement: all, misses: 1, trusted: null, events: [] },
];

/** The action flags of an enforcement (the table's status fields), without the escalation fields. */
function flags(e: EnforcementStatus): Partial<EnforcementStatus> {
  return Object.fromEntries((['tainted', 'cordoned', 'drained', 'credentialsRevoked'] as const).filter((k) => e[k] !== undefined).map((k) => [k, e[k]]));
}

describe('decideActions', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    const d = decideActions(r.spec, r.input, r.current);
    expect(d.phase).toBe(r.phase);
    expect(flags(d.enforcement)).toEqual(r.enforcement);
    expect(d.consecutiveMisses).toBe(r.misses);
    expect(d.events.map((e) => e.reason)).toEqual(r.events);
    expect(d.clearRecoverAnnotation).toBe(r.clear ?? false);
    const t = d.conditions.find((c) => c.type === 'Trusted');
    if (r.trusted === null) expect(t).toBeUndefined();
    else expect([t?.status, t?.reason]).toEqual(r.trusted);
    const enforced = d.conditions.find((c) => c.type === 'Enforced')!;
    const active = Object.values(flags(d.enforcement)).some(Boolean);
    expect(enforced.status).toBe(active ? 'True' : 'False');
    if (r.spec.mode === 'Audit') expect(enforced.reason).toBe('AuditOnly');
    expect(d.actions).toEqual(actionsFor(r.spec, d.phase, d.enforcement));
  });
});

describe('actionsFor', () => {
  const u = 'attestation.nodeward.io/untrusted';
  const r = 'attestation.nodeward.io/unreachable';
  it.each([
    ['Untrusted, all actions', enforceAll, 'Untrusted', all, [
      { kind: 'taint', op: 'apply', key: u, effect: 'NoExecute' }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'apply' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'apply' }, { kind: 'revoke-credentials' }]],
    ['Unreachable taint uses its own key and effect', enforceAll, 'Unreachable', { tainted: true }, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'apply', key: r, effect: 'NoSchedule' }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'lift' }]],
    ['Trusted lifts and issues a credential', enforceAll, 'Trusted', none, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'lift' }, { kind: 'issue-credential' }]],
    ['Registered does nothing to credentials', enforceAll, 'Registered', undefined, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'lift' }]],
    ['taint effect defaults to NoSchedule when the policy lost it', { mode: 'Enforce' }, 'Untrusted', { tainted: true }, [
      { kind: 'taint', op: 'apply', key: u, effect: 'NoSchedule' }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'lift' }]],
    ['drain with the policy timeout, after the cordon, before the revocation', { mode: 'Enforce', onFailure: { drain: { timeout: '90s' } } }, 'Untrusted', { drained: true, credentialsRevoked: true }, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'apply', timeoutMs: 90_000 }, { kind: 'quarantine', op: 'apply' }, { kind: 'revoke-credentials' }]],
    ['drain of an Unreachable node: onUnreachable timeout, default 5m', enforceAll, 'Unreachable', { drained: true }, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'apply', timeoutMs: 300_000 }, { kind: 'quarantine', op: 'lift' }]],
    ['Audit only lifts, never touches credentials', audit, 'Untrusted', all, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'lift' }]],
    ['Unreachable with credentials revoked on unreachable: quarantined', enforceAll, 'Unreachable', { tainted: true, credentialsRevoked: true }, [
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'apply', key: r, effect: 'NoSchedule' }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'apply' }, { kind: 'revoke-credentials' }]],
  ] as const)('%s', (_n, spec, phase, enforcement, expected) => {
    expect(actionsFor(spec as Spec, phase, enforcement)).toEqual(expected);
  });

  it('releasing a node lifts everything, the quarantine included, and revokes', () => {
    expect(releaseActions()).toEqual([
      { kind: 'taint', op: 'lift', key: u }, { kind: 'taint', op: 'lift', key: r }, { kind: 'cordon', op: 'lift' }, { kind: 'drain', op: 'lift' }, { kind: 'quarantine', op: 'lift' }, { kind: 'revoke-credentials' }]);
  });
});
