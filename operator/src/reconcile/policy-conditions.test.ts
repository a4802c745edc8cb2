import type { Condition, NodeAttestationPolicy } from '../status/resources.js';
import { invalidReferences, policyConditions } from './policy-conditions.js';
import type { RuntimePolicyLoad } from './round-context.js';
import type { TrustAnchorsLoad } from './trust-anchors.js';

const policy = (labels: Record<string, string>, prev?: { status: 'True' | 'False'; reason: string }): NodeAttestationPolicy => ({
  metadata: { name: 'p' },
  spec: { nodeSelector: { matchLabels: labels }, tpm: { pcrs: [0] } },
  ...(prev ? { status: { conditions: [{ type: 'RuntimePolicyReady', ...prev, message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] } } : {}),
});
const missing: RuntimePolicyLoad = { ok: false, reason: 'ConfigMapNotFound', message: 'spec.ima.runtimePolicy: ConfigMap ns/rp not found', configMap: 'ns/rp/k' };
const invalid: RuntimePolicyLoad = { ok: false, reason: 'RuntimePolicyInvalid', message: 'spec.ima.runtimePolicy: ns/rp/k is not a valid Keylime runtime policy: x', configMap: 'ns/rp/k' };

describe('policyConditions', () => {
  it.each<[string, NodeAttestationPolicy, RuntimePolicyLoad, [[string, string], [string, string], string[]]]>([
    ['protected selector, no runtime policy', policy({ 'node-restriction.kubernetes.io/pool': 'a' }), { ok: true }, [['True', 'RestrictedLabels'], ['True', 'NotConfigured'], []]],
    ['kubelet-writable selector', policy({ pool: 'a' }), { ok: true }, [['False', 'KubeletWritableLabels'], ['True', 'NotConfigured'], []]],
    ['runtime policy ConfigMap missing: Warning once', policy({}), missing, [['True', 'RestrictedLabels'], ['False', 'ConfigMapNotFound'], ['PolicyInvalid']]],
    ['still missing: no new Event', policy({}, { status: 'False', reason: 'ConfigMapNotFound' }), missing, [['True', 'RestrictedLabels'], ['False', 'ConfigMapNotFound'], []]],
    ['now invalid instead: a new Event', policy({}, { status: 'False', reason: 'ConfigMapNotFound' }), invalid, [['True', 'RestrictedLabels'], ['False', 'RuntimePolicyInvalid'], ['PolicyInvalid']]],
  ])('%s', (_n, p, load, [selector, ready, events]) => {
    const r = policyConditions(p, load);
    expect(r.conditions.map((c) => [c.status, c.reason])).toEqual([selector, ready, ['True', 'NotConfigured']]);
    expect(r.events.map((e) => e.reason)).toEqual(events);
  });

  it('names the field at fault and the writable labels', () => {
    const r = policyConditions(policy({ pool: 'a' }), missing);
    expect(r.conditions[0]!.message).toContain('spec.nodeSelector');
    expect(r.conditions[0]!.message).toContain('pool');
    expect(r.conditions[1]!.message).toMatch(/^spec\.ima\.runtimePolicy: ConfigMap ns\/rp not found/);
  });

  it.each<[string, TrustAnchorsLoad, [string, string], string[]]>([
    ['anchors loaded', { ok: true, certificates: 2 }, ['True', 'Loaded'], []],
    ['anchors ConfigMap missing', { ok: false, reason: 'ConfigMapNotFound', message: 'spec.tpm.ekTrustAnchors: ConfigMap ns/ca not found' }, ['False', 'ConfigMapNotFound'], ['PolicyInvalid']],
  ])('trust anchors: %s', (_n, anchors, want, events) => {
    const r = policyConditions(policy({}), { ok: true }, anchors);
    expect(r.conditions.map((c) => [c.type, c.status, c.reason])[2]).toEqual(['TrustAnchorsReady', ...want]);
    expect(r.events.map((e) => e.reason)).toEqual(events);
    if (!anchors.ok) expect(r.events[0]!.message).toMatch(/^spec\.tpm\.ekTrustAnchors: ConfigMap ns\/ca not found; registrations/);
  });

  it('one Event per newly broken reference, both at once', () => {
    const r = policyConditions(policy({}), invalid, { ok: false, reason: 'NoCertificates', message: 'spec.tpm.ekTrustAnchors: none' });
    expect(r.events.map((e) => e.message.split(':')[0])).toEqual(['spec.ima.runtimePolicy', 'spec.tpm.ekTrustAnchors']);
  });

  it('lists the invalid references from the status alone (the metric on every replica)', () => {
    const c = (type: string, status: 'True' | 'False', reason: string): Condition => ({ type, status, reason, message: '', lastTransitionTime: '2026-01-01T00:00:00Z' });
    const p: NodeAttestationPolicy = { ...policy({}), status: { conditions: [c('SelectorProtected', 'False', 'KubeletWritableLabels'), c('RuntimePolicyReady', 'False', 'RuntimePolicyInvalid'), c('TrustAnchorsReady', 'True', 'Loaded')] } };
    expect(invalidReferences(p).map((x) => x.reason)).toEqual(['RuntimePolicyInvalid']);
    expect(invalidReferences(policy({}))).toEqual([]);
  });
});
