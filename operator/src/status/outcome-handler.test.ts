import type { RoundVerdict } from '@nodeward/attest';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { silentLogger } from '../log.js';
import type { RoundOutcome } from '../ports.js';
import { decideActions } from '../decide/decide-actions.js';
import { Manager } from '../manager/manager.js';
import { currentState, makeRoundOutcomeHandler, recordDecision, statusWriteReason } from './outcome-handler.js';
import type { NodeAttestationPolicy } from './resources.js';

const policy: NodeAttestationPolicy = {
  metadata: { name: 'p', generation: 3 },
  spec: { nodeSelector: {}, mode: 'Enforce', tpm: { pcrs: [10] }, ima: { runtimePolicy: { configMapRef: { name: 'x', namespace: 'y' }, key: 'k' } }, onFailure: { taint: { effect: 'NoSchedule' } } },
};
const verdict = (trusted: boolean, failures: RoundVerdict['failures'] = []): RoundVerdict => ({
  trusted, failures, rebooted: false, nextState: { ima: { count: 0, pcr10: { sha1: '', sha256: '' } } },
});

function setup(leader = true): { cluster: MemoryCluster; handle: ReturnType<typeof makeRoundOutcomeHandler>; enforced: string[][]; clock: { t: number }; eventsBeforeEnforcing: number[] } {
  const cluster = new MemoryCluster();
  cluster.attestations.set('n1', { metadata: { name: 'n1', generation: 1 }, spec: { nodeName: 'n1', policyName: 'p' }, status: { phase: 'Registered' } });
  const enforced: string[][] = [];
  const eventsBeforeEnforcing: number[] = [];
  const clock = { t: Date.parse('2025-01-01T00:00:00Z') };
  // Enforcement is gated as main.ts gates it: by the manager, which leads once its elector says so.
  const manager = new Manager({ log: silentLogger, elector: (hooks) => ({ start: () => { if (leader) hooks.onStartedLeading(); }, stop: () => Promise.resolve() }) });
  void manager.start();
  const handle = makeRoundOutcomeHandler({
    cluster, log: silentLogger, heartbeatMs: 300_000, now: () => new Date(clock.t),
    nodeAttestation: (n) => cluster.attestations.get(n),
    policy: (n) => (n === 'p' ? policy : undefined),
    enforce: manager.whileLeading(async (_na, actions) => {
      enforced.push(actions.map((a) => `${a.kind}:${'op' in a ? a.op : ''}`));
      eventsBeforeEnforcing.push(cluster.events.length);
      return Promise.resolve();
    }),
  });
  return { cluster, handle, enforced, clock, eventsBeforeEnforcing };
}
const at = (clock: { t: number }): Date => new Date(clock.t);
const round = (clock: { t: number }, v: RoundVerdict, policyName = 'p'): RoundOutcome => ({ kind: 'verdict', nodeName: 'n1', policyName, at: at(clock), verdict: v });

describe('RoundOutcomeHandler', () => {
  it('drops a round verified against a superseded AK (in flight across an approved identity change)', async () => {
    const { cluster, handle } = setup();
    const na = cluster.attestations.get('n1')!;
    na.status = { phase: 'Trusted', identity: { ekCertificateFingerprint: 'f'.repeat(64), akName: 'aa' } };
    const failures = [{ id: 'quote.wrong_signing_key' as const, message: 'x' }];
    await handle({ kind: 'identity-changed', nodeName: 'n1', policyName: 'p', at: at({ t: 0 }), failures, akName: 'old' });
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Trusted');
    await handle({ kind: 'identity-changed', nodeName: 'n1', policyName: 'p', at: at({ t: 0 }), failures, akName: 'aa' });
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Untrusted');
  });

  it('drops a round in flight for a node that left its policy while enforced (it must not recover it)', async () => {
    const { cluster, handle, clock } = setup();
    const na = cluster.attestations.get('n1')!;
    na.status = { phase: 'Untrusted', enforcement: { tainted: true }, conditions: [
      { type: 'LeftPolicy', status: 'True', reason: 'LeftPolicyWhileEnforced', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }] };
    await handle(round(clock, verdict(true)));
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Untrusted');
  });

  it('keeps a node two policies select in Conflict after a passing round, and makes it Untrusted after a failing one', async () => {
    const { cluster, handle, clock } = setup();
    const conflict = [{ type: 'PolicyConflict', status: 'True' as const, reason: 'MultiplePolicies', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }];
    cluster.attestations.get('n1')!.status = { phase: 'Conflict', conditions: conflict };
    await handle(round(clock, verdict(true)));
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Conflict');
    await handle(round(clock, verdict(false, [{ id: 'ima.path_not_in_policy', message: '/tmp/x' }])));
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Untrusted');
    expect(cluster.attestations.get('n1')!.status?.enforcement?.tainted).toBe(true);
  });

  it('writes status on change only, and then at most once per heartbeat for passing rounds', async () => {
    const { cluster, handle, clock } = setup();
    await handle(round(clock, verdict(true)));
    const s = cluster.attestations.get('n1')!.status!;
    expect(s.phase).toBe('Trusted');
    expect(s.lastAttestationTime).toBe('2025-01-01T00:00:00.000Z');
    expect(s.lastSuccessTime).toBe('2025-01-01T00:00:00.000Z');
    expect(s.observedGeneration).toBe(1);
    expect(Object.fromEntries(s.conditions!.map((c) => [c.type, `${c.status}/${c.reason}`]))).toEqual({
      QuoteVerified: 'True/Verified', ImaVerified: 'True/Verified', BootLogVerified: 'Unknown/NotChecked', VerityVerified: 'Unknown/NotChecked',
      Trusted: 'True/AttestationPassed', Enforced: 'False/NoActions',
    });
    const writes = (): number => cluster.writes.filter((w) => w.startsWith('status')).length;
    expect(writes()).toBe(1);
    for (let i = 1; i <= 9; i++) {
      clock.t += 30_000;
      await handle(round(clock, verdict(true)));
    }
    expect(writes()).toBe(1);
    clock.t += 30_000; // 300 s since the last write: heartbeat
    await handle(round(clock, verdict(true)));
    expect(writes()).toBe(2);
    expect(cluster.attestations.get('n1')!.status!.lastAttestationTime).toBe(at(clock).toISOString());
  });

  it('a reconcile (no round outcome) never writes for the heartbeat: only a round refreshes the round times', async () => {
    const { cluster, handle, clock } = setup();
    await handle(round(clock, verdict(true)));
    clock.t += 400_000; // past the heartbeat, before the next round
    const na = cluster.attestations.get('n1')!;
    const deps = {
      cluster, log: silentLogger, heartbeatMs: 300_000, now: () => new Date(clock.t),
      nodeAttestation: (n: string) => cluster.attestations.get(n), policy: () => policy,
    };
    expect(await recordDecision(deps, na, policy, decideActions(policy.spec, { kind: 'reconcile' }, currentState(na)))).toBe(false);
    expect(cluster.writes.filter((w) => w.startsWith('status'))).toHaveLength(1);
    await handle(round(clock, verdict(true)));
    expect(cluster.writes.filter((w) => w.startsWith('status'))).toHaveLength(2);
  });

  it('records a failure: lastFailure, failed conditions, Untrusted, Event, enforcement (leader)', async () => {
    const { cluster, handle, enforced, clock } = setup();
    await handle(round(clock, verdict(false, [{ id: 'ima.digest_not_allowed', message: '/bin/evil' }, { id: 'quote.pcr_unexpected', message: 'pcr 10' }])));
    const s = cluster.attestations.get('n1')!.status!;
    expect(s.phase).toBe('Untrusted');
    expect(s.lastFailure).toEqual({ reason: 'ima.digest_not_allowed', detail: 'ima.digest_not_allowed, quote.pcr_unexpected' });
    expect(s.enforcement).toEqual({ tainted: true, cordoned: false, drained: false, credentialsRevoked: false, taintEffect: 'NoSchedule', since: '2025-01-01T00:00:00.000Z', step: 0 });
    expect(s.conditions!.find((c) => c.type === 'ImaVerified')).toMatchObject({ status: 'False', reason: 'VerificationFailed' });
    expect(s.conditions!.find((c) => c.type === 'QuoteVerified')).toMatchObject({ status: 'False' });
    expect(cluster.events.map((e) => e.reason)).toEqual(['AttestationFailed']);
    expect(enforced).toEqual([['taint:apply', 'taint:lift', 'cordon:lift', 'drain:lift', 'quarantine:lift']]);
  });

  it('records the AttestationFailed Event before enforcing, so a crash right after the taint never loses it', async () => {
    const { cluster, handle, clock, eventsBeforeEnforcing } = setup();
    await handle(round(clock, verdict(false, [{ id: 'ima.digest_not_allowed', message: '/bin/evil' }])));
    expect(eventsBeforeEnforcing).toEqual([1]);
    expect(cluster.events.map((e) => e.reason)).toEqual(['AttestationFailed']);
    expect(cluster.writes[0]).toMatch(/^status na\/n1/);
  });

  it('a follower records the desired state but does not enforce', async () => {
    const { cluster, handle, enforced, clock } = setup(false);
    await handle(round(clock, verdict(false, [{ id: 'quote.bad_signature', message: '' }])));
    expect(cluster.attestations.get('n1')!.status!.enforcement?.tainted).toBe(true);
    expect(enforced).toEqual([]);
  });

  it('counts misses and becomes Unreachable after afterMisses (default 3)', async () => {
    const { cluster, handle, clock } = setup();
    for (let i = 0; i < 3; i++) await handle({ kind: 'unreachable', nodeName: 'n1', policyName: 'p', at: at(clock), error: 'ECONNREFUSED' });
    const s = cluster.attestations.get('n1')!.status!;
    expect([s.phase, s.consecutiveMisses, s.lastFailure?.reason]).toEqual(['Unreachable', 3, 'agent.unreachable']);
    expect(cluster.events.map((e) => e.reason)).toEqual(['AgentUnreachable']);
  });

  it('drops outcomes for nodes no longer attested under that policy', async () => {
    const { cluster, handle, clock } = setup();
    await handle(round(clock, verdict(false), 'other'));
    await handle({ ...round(clock, verdict(false)), nodeName: 'gone' });
    expect(cluster.writes).toEqual([]);
  });
});

describe('statusWriteReason', () => {
  const now = new Date('2025-01-01T00:10:00Z');
  const base = { phase: 'Trusted' as const, consecutiveMisses: 0, lastAttestationTime: '2025-01-01T00:09:00Z', lastSuccessTime: '2025-01-01T00:09:00Z' };
  const next = { ...base, lastAttestationTime: now.toISOString(), lastSuccessTime: now.toISOString() };
  it('names the first write, the changed fields (round times apart), and a due heartbeat with its age; skips the rest', () => {
    expect(statusWriteReason(undefined, next, now, 300_000)).toEqual({ why: 'first' });
    expect(statusWriteReason(base, { ...next, phase: 'Untrusted', consecutiveMisses: 1 }, now, 300_000)).toEqual({ why: 'changed', fields: ['consecutiveMisses', 'phase'] });
    expect(statusWriteReason({ ...base, lastFailure: { reason: 'x' } }, next, now, 300_000)).toEqual({ why: 'changed', fields: ['lastFailure'] });
    expect(statusWriteReason(base, next, now, 300_000)).toBeUndefined();
    expect(statusWriteReason(base, next, now, 60_000)).toEqual({ why: 'heartbeat', ageMs: 60_000 });
  });
});
