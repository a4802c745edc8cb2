import { NodeConditionWrites, desiredNodeCondition, nodeConditionUpdate, type NodeConditionInput } from './node-condition.js';
import type { Condition, NodeAttestation, NodeAttestationStatus, NodeCondition, NodeView } from './resources.js';
import { NODE_CONDITION_TRUSTED } from './resources.js';

const now = new Date('2026-01-01T12:00:00Z');
const WINDOW = 60_000;
const cond = (type: string, status: Condition['status'], reason: string, message = ''): Condition => ({ type, status, reason, message, lastTransitionTime: '2026-01-01T00:00:00Z' });
const na = (status: NodeAttestationStatus | undefined): NodeAttestation => ({ metadata: { name: 'n1' }, spec: { nodeName: 'n1', policyName: 'p' }, ...(status ? { status } : {}) });
const recent = new Date(now.getTime() - 10_000).toISOString();
const old = new Date(now.getTime() - WINDOW - 1).toISOString();

describe('desiredNodeCondition', () => {
  it.each<[string, NodeAttestation | undefined, Pick<NodeConditionInput, 'status' | 'reason'>]>([
    ['no NodeAttestation', undefined, { status: 'Unknown', reason: 'NotAttested' }],
    ['just created', na(undefined), { status: 'Unknown', reason: 'AwaitingAttestation' }],
    ['registered, first round pending', na({ phase: 'Registered', conditions: [cond('Trusted', 'Unknown', 'AwaitingRegistration')] }), { status: 'Unknown', reason: 'AwaitingRegistration' }],
    ['registration refused', na({ phase: 'Pending', conditions: [cond('Registered', 'False', 'RegistrationFailed', 'identity.ek_untrusted: x')] }), { status: 'False', reason: 'RegistrationFailed' }],
    ['Trusted with a recent passing round', na({ phase: 'Trusted', lastSuccessTime: recent, conditions: [cond('Trusted', 'True', 'AttestationPassed')] }), { status: 'True', reason: 'AttestationPassed' }],
    // Rounds stopped (Redis lost, policy broken, worker down) and Stale not recorded yet: never True.
    ['Trusted, last passing round past the window', na({ phase: 'Trusted', lastSuccessTime: old, conditions: [cond('Trusted', 'True', 'AttestationPassed')] }), { status: 'Unknown', reason: 'RoundsStale' }],
    ['Trusted without lastSuccessTime', na({ phase: 'Trusted', conditions: [cond('Trusted', 'True', 'AttestationPassed')] }), { status: 'Unknown', reason: 'RoundsStale' }],
    ['Stale', na({ phase: 'Stale', lastSuccessTime: old, conditions: [cond('Trusted', 'Unknown', 'RoundsStale')] }), { status: 'Unknown', reason: 'RoundsStale' }],
    ['Untrusted', na({ phase: 'Untrusted', conditions: [cond('Trusted', 'False', 'AttestationFailed', 'ima.digest_not_allowed: /usr/bin/x')] }), { status: 'False', reason: 'AttestationFailed' }],
    ['Unreachable', na({ phase: 'Unreachable', conditions: [cond('Trusted', 'Unknown', 'AgentUnreachable')] }), { status: 'Unknown', reason: 'AgentUnreachable' }],
    ['Conflict', na({ phase: 'Conflict', conditions: [cond('Trusted', 'False', 'MultiplePolicies')] }), { status: 'False', reason: 'MultiplePolicies' }],
    ['held for manual recovery', na({ phase: 'Untrusted', conditions: [cond('Trusted', 'False', 'AwaitingManualRecovery')] }), { status: 'False', reason: 'AwaitingManualRecovery' }],
    // An inconsistent status (condition True, phase not Trusted) is never shown as True.
    ['condition True but phase Registered', na({ phase: 'Registered', lastSuccessTime: recent, conditions: [cond('Trusted', 'True', 'AttestationPassed')] }), { status: 'Unknown', reason: 'AwaitingAttestation' }],
  ])('%s', (_name, attestation, want) => {
    expect(desiredNodeCondition(attestation, WINDOW, now)).toMatchObject(want);
  });

  it('names the policy and the NodeAttestation, and bounds the message', () => {
    const long = 'x'.repeat(5000);
    const c = desiredNodeCondition(na({ phase: 'Untrusted', conditions: [cond('Trusted', 'False', 'AttestationFailed', long)] }), WINDOW, now);
    expect(c.message.length).toBeLessThanOrEqual(1024);
    const short = desiredNodeCondition(na({ phase: 'Untrusted', conditions: [cond('Trusted', 'False', 'AttestationFailed', 'quote.pcr_mismatch: PCR 7')] }), WINDOW, now);
    expect(short.message).toBe('quote.pcr_mismatch: PCR 7 (policy p; see NodeAttestation n1)');
  });
});

describe('nodeConditionUpdate', () => {
  const node = (conditions?: NodeCondition[]): NodeView => ({ metadata: { name: 'n1' }, status: { addresses: [], ...(conditions ? { conditions } : {}) } });
  const trusted: NodeConditionInput = { status: 'True', reason: 'AttestationPassed', message: 'ok' };
  const written = { type: NODE_CONDITION_TRUSTED, ...trusted, lastTransitionTime: '2026-01-01T00:00:00.000Z', lastHeartbeatTime: '2026-01-01T00:00:00.000Z' };

  it('writes a new condition with both times now', () => {
    expect(nodeConditionUpdate(node(), trusted, true, now)).toEqual({ type: NODE_CONDITION_TRUSTED, ...trusted, lastTransitionTime: now.toISOString(), lastHeartbeatTime: now.toISOString() });
  });

  it('writes nothing when the Node already says it (no heartbeat writes)', () => {
    expect(nodeConditionUpdate(node([written]), trusted, true, now)).toBeUndefined();
  });

  it('keeps lastTransitionTime when only the reason or message changes', () => {
    const u = nodeConditionUpdate(node([written]), { ...trusted, message: 'other' }, true, now);
    expect(u).toMatchObject({ message: 'other', lastTransitionTime: written.lastTransitionTime, lastHeartbeatTime: now.toISOString() });
  });

  it('puts back what a kubelet overwrote, with a new transition time', () => {
    const forged = { ...written, status: 'True' as const };
    const u = nodeConditionUpdate(node([forged]), { status: 'False', reason: 'AttestationFailed', message: 'm' }, true, now);
    expect(u).toMatchObject({ status: 'False', reason: 'AttestationFailed', lastTransitionTime: now.toISOString() });
  });

  it('leaves nodes no policy ever attested alone, and turns a node that left to Unknown', () => {
    const notAttested = desiredNodeCondition(undefined, WINDOW, now);
    expect(nodeConditionUpdate(node(), notAttested, false, now)).toBeUndefined();
    expect(nodeConditionUpdate(node([written]), notAttested, false, now)).toMatchObject({ status: 'Unknown', reason: 'NotAttested' });
  });
});

describe('NodeConditionWrites', () => {
  const at = (resourceVersion: string): NodeView => ({ metadata: { name: 'n1', resourceVersion } });
  const stale: NodeConditionInput = { status: 'Unknown', reason: 'RoundsStale', message: 'm' };

  it('skips writing again what this replica wrote while the cache predates the write', () => {
    const w = new NodeConditionWrites();
    w.record('n1', '120', stale);
    expect(w.pending(at('100'), stale)).toBe(true);
    // Something else is due now: written, whatever the cache.
    expect(w.pending(at('100'), { ...stale, status: 'False' })).toBe(false);
  });

  it('lets the cache decide again once it has the write (a later kubelet overwrite is put back)', () => {
    const w = new NodeConditionWrites();
    w.record('n1', '120', stale);
    expect(w.pending(at('121'), stale)).toBe(false);
    expect(w.pending(at('100'), stale)).toBe(false); // forgotten once caught up
  });

  it('remembers nothing for a Node that was not there', () => {
    const w = new NodeConditionWrites();
    w.record('n1', undefined, stale);
    expect(w.pending(at('1'), stale)).toBe(false);
  });
});
