import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { runtimePolicyConfigMaps, RUNTIME_POLICY_SHA256_ANNOTATION, type CompiledRuntimePolicy, type RuntimePolicyConfigMap } from '@nodeward/attest';
import { silentLogger } from '../log.js';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { makeRoundContextProvider } from './round-context.js';
import { runtimePolicySource } from './runtime-policy-source.js';

const ref = { configMapRef: { name: 'rp', namespace: 'ns' }, key: 'policy.json' };
/** A document that does not compress well, so that it takes several small parts. */
const doc = JSON.stringify({ meta: { version: 1 }, digests: { '/x': [randomBytes(32).toString('hex')] }, noise: randomBytes(3000).toString('hex') });

function store(maps: readonly (RuntimePolicyConfigMap | ConfigMapView)[]): (ns: string, name: string) => ConfigMapView | undefined {
  const byName = new Map(maps.map((m, i) => [`${m.metadata.namespace}/${m.metadata.name}`, { ...m, metadata: { ...m.metadata, resourceVersion: String(10 + i) } }]));
  return (ns, name) => byName.get(`${ns}/${name}`);
}
const parts = (partBytes: number): RuntimePolicyConfigMap[] =>
  runtimePolicyConfigMaps(gzipSync(doc), { name: 'rp', namespace: 'ns', key: 'policy.json' }, partBytes);

describe('runtimePolicySource', () => {
  it('reads plain JSON from data, as before', () => {
    const s = runtimePolicySource(store([{ metadata: { name: 'rp', namespace: 'ns' }, data: { 'policy.json': doc } }]), ref);
    expect(s.ok && s.read()).toBe(doc);
  });

  it('reads one gzip part from binaryData', () => {
    const maps = parts(1 << 20);
    expect(maps).toHaveLength(1);
    expect(maps[0]!.metadata.annotations).toBeUndefined();
    const s = runtimePolicySource(store(maps), ref);
    expect(s.ok && s.read()).toBe(doc);
  });

  it('joins several parts, and the version changes with any part', () => {
    const maps = parts(1000);
    expect(maps.length).toBeGreaterThan(2);
    expect(maps.map((m) => m.metadata.name)).toEqual(['rp', ...maps.slice(1).map((_m, i) => `rp-part-${i + 2}`)]);
    const s = runtimePolicySource(store(maps), ref);
    expect(s.ok && s.read()).toBe(doc);
    expect(s.ok && s.version).toBe(maps.map((_m, i) => String(10 + i)).join(','));
  });

  it('a missing part: no policy, naming the part', () => {
    const maps = parts(1000);
    const s = runtimePolicySource(store(maps.filter((_m, i) => i !== 1)), ref);
    expect(s).toEqual({ ok: false, reason: expect.stringMatching(/runtime policy part 2 \(ConfigMap ns\/rp-part-2, key policy.json\) is missing/) });
  });

  it('a part from another version (a half-applied update) fails the digest check when read', () => {
    const maps = parts(1000);
    const other = runtimePolicyConfigMaps(gzipSync(doc.replace('"meta"', '"meta" ')), { name: 'rp', namespace: 'ns', key: 'policy.json' }, 1000);
    const mixed = [maps[0]!, other[1]!, ...maps.slice(2)];
    const s = runtimePolicySource(store(mixed), ref);
    expect(s.ok).toBe(true);
    expect(() => s.ok && s.read()).toThrow(/do not hash to .*runtime-policy-sha256/);
    const unsigned = { ...maps[0]!, metadata: { ...maps[0]!.metadata, annotations: { ...maps[0]!.metadata.annotations } } };
    delete (unsigned.metadata.annotations as Record<string, string>)[RUNTIME_POLICY_SHA256_ANNOTATION];
    const t = runtimePolicySource(store([unsigned, ...maps.slice(1)]), ref);
    expect(() => t.ok && t.read()).toThrow(/parts without .*runtime-policy-sha256/);
  });

  it('no ConfigMap, or neither data nor binaryData under the key', () => {
    expect(runtimePolicySource(store([]), ref)).toEqual({ ok: false, reason: 'runtime policy ConfigMap or key missing' });
    expect(runtimePolicySource(store([{ metadata: { name: 'rp', namespace: 'ns' }, data: { other: '{}' } }]), ref).ok).toBe(false);
  });
});

describe('the round context reads a packed policy', () => {
  it('compiles the policy joined from its parts, and skips the round while a part is missing', () => {
    const maps = parts(1000);
    let present = maps;
    const policy: NodeAttestationPolicy = { metadata: { name: 'p' }, spec: { nodeSelector: {}, interval: '10s', tpm: { hashAlg: 'sha256', pcrs: [10] }, ima: { runtimePolicy: ref } } };
    const na: NodeAttestation = { metadata: { name: 'n1' }, spec: { nodeName: 'n1', policyName: 'p' }, status: { identity: { ekCertificateFingerprint: 'e'.repeat(64), akName: '000b' + 'a'.repeat(64), akPublic: 'AAEC', agentAddress: '10.1.2.3' } } };
    const node: NodeView = { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.1.2.3' }] } };
    const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na], nodes: () => [node], configMap: (ns, name) => store(present)(ns, name) },
      { agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger, parseRuntimePolicy: (t) => ({ text: t, warnings: [] }) as unknown as CompiledRuntimePolicy });
    expect(get('n1')?.policy.ima).toEqual({ text: doc, warnings: [] });
    present = maps.slice(0, -1);
    expect(get('n1')).toBeUndefined();
  });
});
