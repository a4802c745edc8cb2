import type { EnforcementStatus } from '../status/resources.js';
import { admission, bypassesBudget, budgetCondition, maxUnavailableNodes, type Admission } from './budget.js';
import { decideActions, type CurrentState, type DecisionInput } from './decide-actions.js';
import { enforcementThrough, stepDue, stepsOf, strongerEffect } from './escalation.js';

type Spec = Parameters<typeof decideActions>[0];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0 + s * 1000);
const iso = (s: number): string => at(s).toISOString();

/** Taint NoSchedule at once, cordon and drain after 2 minutes, revoke and NoExecute after 10. */
const graduated: Spec = {
  mode: 'Enforce',
  onFailure: { taint: { effect: 'NoSchedule' }, steps: [{ after: '10m', revokeCredentials: true, taint: { effect: 'NoExecute' } }, { after: '2m', cordon: true, drain: {} }] },
};
const fail: DecisionInput = { kind: 'verdict', trusted: false, failures: [{ id: 'ima.digest_not_allowed', message: '/usr/bin/x' }] };
const impersonated: DecisionInput = { kind: 'verdict', trusted: false, failures: [{ id: 'quote.wrong_signing_key', message: 'not the AK' }] };
const pass: DecisionInput = { kind: 'verdict', trusted: true, failures: [] };
const reconcile: DecisionInput = { kind: 'reconcile' };
const hold: () => Admission = () => ({ verdict: 'hold', message: 'held by maxUnavailable 1 (1 of 4 nodes): 1 already enforced (n1)' });
const defer: () => Admission = () => ({ verdict: 'defer' });
const st = (p: Partial<CurrentState>): CurrentState => ({
  phase: 'Trusted', enforcement: undefined, consecutiveMisses: 0, identityHold: false, recoverRequested: false, awaitingRecovery: false, conflict: false, stale: false, now: at(0), ...p,
});
const flags = (e: EnforcementStatus | undefined): string => (['tainted', 'cordoned', 'drained', 'credentialsRevoked'] as const).filter((k) => e?.[k] === true).join(',');

describe('escalation steps (pure)', () => {
  it('orders the steps by delay after the spec\'s own actions, and finds the step due', () => {
    const steps = stepsOf(graduated.onFailure);
    expect(steps.map((s) => s.afterMs)).toEqual([0, 120_000, 600_000]);
    expect([stepDue(steps, 0), stepDue(steps, 119_999), stepDue(steps, 120_000), stepDue(steps, 3_600_000)]).toEqual([0, 0, 1, 2]);
  });
  it('merges steps with what is in force; the taint effect only strengthens', () => {
    const steps = stepsOf(graduated.onFailure);
    expect(enforcementThrough(steps, 2, { credentialsRevoked: false })).toMatchObject({ tainted: true, cordoned: true, drained: true, credentialsRevoked: true, taintEffect: 'NoExecute' });
    expect(enforcementThrough(steps, 0, { tainted: true, taintEffect: 'NoExecute' }).taintEffect).toBe('NoExecute');
    expect([strongerEffect('NoSchedule', 'PreferNoSchedule'), strongerEffect(undefined, 'NoSchedule'), strongerEffect('NoSchedule', 'NoExecute')]).toEqual(['NoSchedule', 'NoSchedule', 'NoExecute']);
  });
});

interface Row {
  name: string;
  spec: Spec;
  input: DecisionInput;
  current: CurrentState;
  phase: string;
  flags: string;
  enforcement?: Partial<EnforcementStatus>;
  events: string[];
  enforced?: [string, string];
  passes?: number;
}

const begun = (step: number, extra: Partial<EnforcementStatus> = {}): EnforcementStatus => ({ tainted: true, taintEffect: 'NoSchedule', since: iso(0), step, ...extra });

const rows: Row[] = [
  // Escalation over time
  { name: 'step 0 at once: taint NoSchedule, since and the next step recorded', spec: graduated, input: fail, current: st({}), phase: 'Untrusted', flags: 'tainted',
    enforcement: { since: iso(0), step: 0, nextStepAt: iso(120), taintEffect: 'NoSchedule' }, events: ['AttestationFailed'], enforced: ['True', 'ActionsApplied'] },
  { name: 'a failing round before the 2m step: unchanged', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: begun(0, { nextStepAt: iso(120) }), now: at(90) }), phase: 'Untrusted', flags: 'tainted',
    enforcement: { step: 0 }, events: [] },
  { name: 'a failing round after 2m: cordon and drain, with an Event', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: begun(0), now: at(121) }), phase: 'Untrusted', flags: 'tainted,cordoned,drained',
    enforcement: { step: 1, nextStepAt: iso(600), since: iso(0) }, events: ['EnforcementEscalated'] },
  { name: 'a reconcile after 10m (no round): revoke, taint NoExecute', spec: graduated, input: reconcile, current: st({ phase: 'Untrusted', enforcement: begun(1, { cordoned: true, drained: true }), now: at(601) }), phase: 'Untrusted', flags: 'tainted,cordoned,drained,credentialsRevoked',
    enforcement: { step: 2, taintEffect: 'NoExecute' }, events: ['EnforcementEscalated'] },
  { name: 'a step missed while the operator was down: every due step at once', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: begun(0), now: at(3600) }), phase: 'Untrusted', flags: 'tainted,cordoned,drained,credentialsRevoked',
    enforcement: { step: 2 }, events: ['EnforcementEscalated'] },
  { name: 'the last step stays; no further Event', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: begun(2, { cordoned: true, drained: true, credentialsRevoked: true, taintEffect: 'NoExecute' }), now: at(7200) }), phase: 'Untrusted', flags: 'tainted,cordoned,drained,credentialsRevoked',
    events: [] },
  { name: 'enforcement from before escalation (no since) counts as begun now', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: { tainted: true }, now: at(50) }), phase: 'Untrusted', flags: 'tainted',
    enforcement: { since: iso(50), step: 0 }, events: [] },
  // Hysteresis
  { name: 'recoverAfterPasses 3: the first pass holds', spec: { ...graduated, recoverAfterPasses: 3 }, input: pass, current: st({ phase: 'Untrusted', enforcement: begun(1, { cordoned: true }) }), phase: 'Untrusted', flags: 'tainted,cordoned',
    events: [], passes: 1 },
  { name: 'recoverAfterPasses 3: a failure resets the count', spec: { ...graduated, recoverAfterPasses: 3 }, input: fail, current: st({ phase: 'Untrusted', enforcement: begun(0), consecutivePasses: 2 }), phase: 'Untrusted', flags: 'tainted',
    events: [], passes: 0 },
  { name: 'recoverAfterPasses 3: the third pass in a row lifts every step', spec: { ...graduated, recoverAfterPasses: 3 }, input: pass, current: st({ phase: 'Untrusted', enforcement: begun(2, { cordoned: true, drained: true, credentialsRevoked: true }), consecutivePasses: 2 }), phase: 'Trusted', flags: '',
    enforcement: { since: undefined, step: undefined }, events: ['AttestationRecovered'], passes: 0 },
  { name: 'recoverAfterPasses then Manual: enough passes still wait for the annotation', spec: { ...graduated, recoverAfterPasses: 2, recovery: 'Manual' }, input: pass, current: st({ phase: 'Untrusted', enforcement: begun(0), consecutivePasses: 1 }), phase: 'Untrusted', flags: 'tainted',
    events: [], passes: 2 },
  // Budget
  { name: 'budget spent: held, Untrusted and alerted, nothing enforced', spec: graduated, input: fail, current: st({ admission: hold }), phase: 'Untrusted', flags: '',
    enforcement: { held: true }, events: ['AttestationFailed', 'EnforcementHeld'], enforced: ['False', 'HeldByBudget'] },
  { name: 'held node failing again: still held, no repeated Event', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: { held: true }, admission: hold }), phase: 'Untrusted', flags: '',
    enforcement: { held: true }, events: [] },
  { name: 'held node admitted once the budget frees (at reconcile): enforcement begins then', spec: graduated, input: reconcile, current: st({ phase: 'Untrusted', enforcement: { held: true }, now: at(300) }), phase: 'Untrusted', flags: 'tainted',
    enforcement: { held: undefined, since: iso(300), step: 0 }, events: [], enforced: ['True', 'ActionsApplied'] },
  { name: 'impersonation bypasses the budget', spec: graduated, input: impersonated, current: st({ admission: hold }), phase: 'Untrusted', flags: 'tainted',
    events: ['AttestationFailed'] },
  { name: 'an identity change bypasses the budget', spec: graduated, input: { kind: 'identity-changed', failures: [{ id: 'identity.ak_changed', message: '' }] }, current: st({ admission: hold }), phase: 'Untrusted', flags: 'tainted',
    events: ['IdentityChanged'] },
  { name: 'a follower defers to the leader: Untrusted, enforcement not begun, not held', spec: graduated, input: fail, current: st({ admission: defer }), phase: 'Untrusted', flags: '',
    enforcement: { held: undefined, since: undefined }, events: ['AttestationFailed'] },
  { name: 'an enforced node escalates whatever the budget (admission is asked only to begin)', spec: graduated, input: fail, current: st({ phase: 'Untrusted', enforcement: begun(0), admission: hold, now: at(200) }), phase: 'Untrusted', flags: 'tainted,cordoned,drained',
    events: ['EnforcementEscalated'] },
  { name: 'a held node that passes recovers (nothing to lift)', spec: graduated, input: pass, current: st({ phase: 'Untrusted', enforcement: { held: true } }), phase: 'Trusted', flags: '',
    enforcement: { held: undefined }, events: ['AttestationRecovered'] },
];

describe('decideActions: escalation, hysteresis, budget', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_n, r) => {
    const d = decideActions(r.spec, r.input, r.current);
    expect(d.phase).toBe(r.phase);
    expect(flags(d.enforcement)).toBe(r.flags);
    for (const [k, v] of Object.entries(r.enforcement ?? {})) expect([k, d.enforcement[k as keyof EnforcementStatus]]).toEqual([k, v]);
    expect(d.events.map((e) => e.reason)).toEqual(r.events);
    if (r.enforced !== undefined) {
      const c = d.conditions.find((x) => x.type === 'Enforced')!;
      expect([c.status, c.reason]).toEqual(r.enforced);
    }
    if (r.passes !== undefined) expect(d.consecutivePasses).toBe(r.passes);
  });
});

describe('Audit previews what Enforce would do', () => {
  const audit: Spec = { ...graduated, mode: 'Audit' };
  it('records the would-be steps in wouldEnforce, enforces nothing, and says so', () => {
    const first = decideActions(audit, fail, st({}));
    expect(flags(first.enforcement)).toBe('');
    expect(first.wouldEnforce).toMatchObject({ tainted: true, step: 0, nextStepAt: iso(120) });
    expect(first.conditions.find((c) => c.type === 'Enforced')!.message).toContain('Enforce would have it tainted');
    expect(first.actions.filter((a) => 'op' in a && a.op === 'apply')).toEqual([]);
    const later = decideActions(audit, fail, st({ phase: 'Untrusted', wouldEnforce: first.wouldEnforce, now: at(130) }));
    expect(flags(later.wouldEnforce)).toBe('tainted,cordoned,drained');
    expect(later.events.map((e) => [e.type, e.reason])).toEqual([['Normal', 'WouldEnforce']]);
    expect(later.actions.some((a) => a.kind === 'drain' && a.op === 'apply')).toBe(false);
  });
  it('previews a hold by the budget', () => {
    const d = decideActions(audit, fail, st({ admission: hold }));
    expect(d.wouldEnforce).toMatchObject({ held: true });
    expect(d.events.map((e) => e.reason)).toEqual(['AttestationFailed', 'WouldEnforce']);
    expect(d.conditions.find((c) => c.type === 'Enforced')!.message).toContain('hold the node');
  });
  it('switching to Enforce begins enforcement from the status it has (the preview is not applied blindly)', () => {
    const previewed = decideActions(audit, fail, st({})).wouldEnforce;
    const d = decideActions({ ...audit, mode: 'Enforce' }, fail, st({ phase: 'Untrusted', wouldEnforce: previewed, now: at(10) }));
    expect(d.enforcement).toMatchObject({ tainted: true, since: iso(10), step: 0 });
    expect(d.wouldEnforce).toBeUndefined();
  });
});

describe('maxUnavailable budget (pure)', () => {
  it.each([
    [1, 4, 1], ['25%', 4, 1], ['10%', 4, 1], ['50%', 5, 3], ['0%', 4, 0], [0, 4, 0], ['100%', 7, 7], [undefined, 4, undefined],
  ] as const)('maxUnavailable %p of %i nodes is %p', (max, total, n) => {
    expect(maxUnavailableNodes(max, total)).toBe(n);
  });
  it('admits while fewer than the budget are enforced, then holds naming them', () => {
    expect(admission(2, 4, ['n1']).verdict).toBe('admit');
    const a = admission(1, 4, ['n1']);
    expect(a).toEqual({ verdict: 'hold', message: 'held by maxUnavailable 1 (1 of 4 nodes): 1 already enforced (n1)' });
    expect(admission(undefined, 4, ['n1', 'n2']).verdict).toBe('admit');
  });
  it.each([
    ['identity.ek_claimed_by_other_node', true], ['quote.wrong_signing_key', true], ['quote.nonce_mismatch', true], ['quote.bad_signature', true],
    ['ima.digest_not_allowed', false], ['bootlog.secure_boot_disabled', false], ['verity.roothash_not_allowed', false], ['quote.pcr_unexpected', false],
  ] as const)('%s bypasses the budget: %p', (id, bypass) => {
    expect(bypassesBudget([{ id, message: '' }])).toBe(bypass);
  });
  it('the policy condition names the held nodes', () => {
    expect(budgetCondition(1, ['n2', 'n3'])).toMatchObject({ status: 'True', reason: 'NodesHeld', message: '2 failing nodes held (Untrusted, not enforced) by maxUnavailable 1: n2, n3' });
    expect(budgetCondition(1, [])).toMatchObject({ status: 'False', reason: 'WithinBudget' });
  });
});
