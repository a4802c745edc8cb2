import { EVMCTL_RSA_SPKI } from '@nodeward/attest/testing';
import { createLogger, silentLogger } from '../log.js';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import type { CompiledRuntimePolicy, RoundPolicy } from '@nodeward/attest';
import { makeRoundContextProvider, makeRuntimePolicyLoader, policyDigestOf } from './round-context.js';

const policy: NodeAttestationPolicy = {
  metadata: { name: 'p' },
  spec: {
    nodeSelector: {}, interval: '10s',
    tpm: { hashAlg: 'sha256', pcrs: [10, 0, 7], expectedPcrs: { '0': 'aa'.repeat(32) } },
    measuredBoot: { secureBootRequired: true, allowedBootDigests: ['cc'.repeat(32)] },
    ima: { runtimePolicy: { configMapRef: { name: 'rp', namespace: 'ns' }, key: 'policy.json' } },
    verity: { devices: [{ name: 'root', allowedRootHashes: ['bb'.repeat(32)] }] },
  },
};
const na = (akPublic?: string): NodeAttestation => ({
  metadata: { name: 'n1' }, spec: { nodeName: 'n1', policyName: 'p' },
  status: { identity: { ekCertificateFingerprint: 'e'.repeat(64), akName: '000b' + 'a'.repeat(64), agentAddress: '10.1.2.3', ...(akPublic ? { akPublic } : {}) } },
});
const node: NodeView = { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.1.2.3' }] } };

function provider(cm: ConfigMapView | undefined, nas: NodeAttestation[] = [na('AAEC')]): { get: ReturnType<typeof makeRoundContextProvider>; parses: string[] } {
  const parses: string[] = [];
  const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => nas, nodes: () => [node], configMap: () => cm }, {
    agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger,
    parseRuntimePolicy: (t) => {
      parses.push(t);
      if (t === 'bad') throw new Error('invalid');
      return { parsed: t, warnings: [] } as unknown as CompiledRuntimePolicy;
    },
  });
  return { get, parses };
}
const cm = (text: string, rv: string): ConfigMapView => ({ metadata: { name: 'rp', namespace: 'ns', resourceVersion: rv }, data: { 'policy.json': text } });

describe('RoundContextProvider', () => {
  it('compiles through a shared loader once for the reconciler and the rounds', () => {
    const parses: string[] = [];
    const caches = { policies: () => [policy], nodeAttestations: () => [na('AAEC')], nodes: () => [node], configMap: () => cm('{}', '1') };
    const loadRuntimePolicy = makeRuntimePolicyLoader(caches, (t) => (parses.push(t), { parsed: t, warnings: [] }) as unknown as CompiledRuntimePolicy);
    const get = makeRoundContextProvider(caches, { agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger, loadRuntimePolicy });
    expect(loadRuntimePolicy(policy.spec)).toMatchObject({ ok: true, policy: { parsed: '{}' } });
    expect(get('n1')?.policy.ima).toEqual({ parsed: '{}', warnings: [] });
    expect(parses).toEqual(['{}']);
  });

  it('builds the round context from the caches', () => {
    const { get } = provider(cm('{}', '1'));
    expect(get('n1')).toEqual({
      target: { nodeName: 'n1', policyName: 'p', agentUrl: 'https://n1@10.1.2.3:9443', intervalMs: 10_000 },
      policy: {
        akPublic: Buffer.from([0, 1, 2]),
        pcrSelection: { sha256: [0, 7, 10] },
        expectedPcrs: { sha256: { '0': 'aa'.repeat(32) } },
        ima: { parsed: '{}', warnings: [] },
        imaViolations: 'fail',
        bootPolicy: { secureBootRequired: true, allowedBootDigests: { bank: 'sha256', digests: ['cc'.repeat(32)] } },
        verity: { devices: [{ name: 'root', allowedRootHashes: ['bb'.repeat(32)] }] },
      },
      akName: '000b' + 'a'.repeat(64),
      ekFingerprint: 'e'.repeat(64),
      policyDigest: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown,
    });
  });

  it('sends the round only to the address the identity was proven at, whatever the Node reports (a follower caches no Nodes)', () => {
    const moved = na('AAEC');
    moved.status!.identity!.agentAddress = '10.9.9.9';
    expect(provider(cm('{}', '1'), [moved]).get('n1')?.target.agentUrl).toBe('https://n1@10.9.9.9:9443');
    const noNodes = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [moved], nodes: () => [], configMap: () => cm('{}', '1') },
      { agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger, parseRuntimePolicy: () => ({ warnings: [] }) as unknown as CompiledRuntimePolicy });
    expect(noNodes('n1')?.target.agentUrl).toBe('https://n1@10.9.9.9:9443');
    moved.status!.identity!.agentAddress = 'fd00::7';
    expect(provider(cm('{}', '1'), [moved]).get('n1')?.target.agentUrl).toBe('https://n1@[fd00::7]:9443');
    // Never proven anywhere: no round.
    delete moved.status!.identity!.agentAddress;
    expect(provider(cm('{}', '1'), [moved]).get('n1')).toBeUndefined();
  });

  it('uses the indexed lookups when the caches have them, never scanning the lists', () => {
    const scan = (): never => { throw new Error('list scanned'); };
    const get = makeRoundContextProvider({
      policies: () => [policy], nodeAttestations: scan, nodes: scan, configMap: () => cm('{}', '1'),
      nodeAttestation: (n) => (n === 'n1' ? na('AAEC') : undefined), node: (n) => (n === 'n1' ? node : undefined),
    }, { agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger, parseRuntimePolicy: () => ({ warnings: [] }) as unknown as CompiledRuntimePolicy });
    expect(get('n1')?.target.agentUrl).toBe('https://n1@10.1.2.3:9443');
    expect(get('n2')).toBeUndefined();
  });

  it('caches the parsed runtime policy by ConfigMap resourceVersion', () => {
    let current = cm('{"v":1}', '1');
    const parses: string[] = [];
    const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na('AAEC')], nodes: () => [node], configMap: () => current }, {
      agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger, parseRuntimePolicy: (t) => (parses.push(t), { text: t, warnings: [] } as unknown as CompiledRuntimePolicy),
    });
    get('n1');
    get('n1');
    expect(parses).toHaveLength(1);
    current = cm('{"v":2}', '2');
    expect(get('n1')?.policy.ima).toEqual({ text: '{"v":2}', warnings: [] });
    expect(parses).toHaveLength(2);
  });

  it('passes the same AK bytes object while the registered AK is unchanged (attest caches the parsed key per object), new bytes after a change', () => {
    let current = na('AAEC');
    const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [current], nodes: () => [node], configMap: () => cm('{}', '1') }, {
      agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger, parseRuntimePolicy: () => ({ warnings: [] }) as unknown as CompiledRuntimePolicy,
    });
    const first = get('n1')?.policy.akPublic;
    current = na('AAEC');
    expect(get('n1')?.policy.akPublic).toBe(first);
    current = na('AwQF');
    const changed = get('n1')?.policy.akPublic;
    expect(changed).not.toBe(first);
    expect(changed).toEqual(Buffer.from([3, 4, 5]));
    expect(first).toEqual(Buffer.from([0, 1, 2]));
    // Kept per node: in memory of its own, not an 8 KiB slab of Node's Buffer pool that it keeps alive.
    expect(changed!.buffer.byteLength).toBe(3);
  });

  it.each([
    ['not registered (no akPublic)', cm('{}', '1'), [na()]],
    ['no NodeAttestation', cm('{}', '1'), []],
    ['runtime policy ConfigMap missing', undefined, [na('AAEC')]],
    ['runtime policy invalid', cm('bad', '1'), [na('AAEC')]],
  ])('is undefined when %s', (_n, c, nas) => {
    expect(provider(c, nas).get('n1')).toBeUndefined();
  });
});

it('parses a real Keylime runtime policy with attest by default', () => {
  const doc = JSON.stringify({
    meta: { version: 1 }, release: 0, digests: { '/usr/bin/true': ['aa'.repeat(32)] }, excludes: [], keyrings: {},
    ima: { ignored_keyrings: [], log_hash_alg: 'sha256', dm_policy: null }, 'ima-buf': {}, 'verification-keys': '',
  });
  const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na('AAEC')], nodes: () => [node], configMap: () => cm(doc, '7') }, {
    agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger,
  });
  expect(get('n1')?.policy.ima).toBeDefined();
  const bad = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na('AAEC')], nodes: () => [node], configMap: () => cm('{"meta":1}', '8') }, {
    agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger,
  });
  expect(bad('n1')).toBeUndefined();
});

it('compiles verification-keys into the round policy; unusable ones skip the round with a warning naming the field', () => {
  const doc = (keys: string): string => JSON.stringify({ meta: { version: 1 }, digests: {}, 'verification-keys': keys });
  const lines: string[] = [];
  const log = createLogger({}, { write: (l) => lines.push(l) });
  let current = cm(doc(JSON.stringify({ keyids: [], pubkeys: [EVMCTL_RSA_SPKI] })), '1');
  const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na('AAEC')], nodes: () => [node], configMap: () => current }, {
    agentPort: 9443, defaultIntervalMs: 30_000, log,
  });
  expect(get('n1')?.policy.ima?.verificationKeys.size).toBe(1);
  current = cm(doc('{"pubkeys": ["AAAA"]}'), '2');
  expect(get('n1')).toBeUndefined();
  const warning = JSON.parse(lines.at(-1)!);
  expect(warning).toMatchObject({ level: 'warn', msg: 'runtime policy invalid; rounds skipped', configMap: 'ns/rp/policy.json' });
  expect(JSON.stringify(warning)).toContain('verification-keys: pubkeys[0] is not a DER SubjectPublicKeyInfo');
  // Every node's round skips: the warning is not repeated for each one.
  const logged = lines.length;
  for (let i = 0; i < 100; i += 1) expect(get('n1')).toBeUndefined();
  expect(lines.length).toBe(logged);
});

it('a policy with a key Nodeward cannot use still applies; the skipped key is logged once, by name', () => {
  const secp256k1 = 'MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEnNH3Y/xOTwRRd8D6hpodRLnVx71qDTLvJHouno7nU7JSzcXWN1PxK+HQEh1V7sMdwBER4KFKE635JTv6C+BRBg==';
  const doc = JSON.stringify({ meta: { version: 1 }, digests: {}, 'verification-keys': JSON.stringify({ pubkeys: [EVMCTL_RSA_SPKI, secp256k1] }) });
  const lines: string[] = [];
  const log = createLogger({}, { write: (l) => lines.push(l) });
  const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na('AAEC')], nodes: () => [node], configMap: () => cm(doc, '1') }, {
    agentPort: 9443, defaultIntervalMs: 30_000, log,
  });
  expect(get('n1')?.policy.ima?.verificationKeys.size).toBe(1);
  expect(get('n1')).toBeDefined();
  expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([expect.objectContaining({
    level: 'warn', configMap: 'ns/rp/policy.json', warning: expect.stringMatching(/pubkeys\[1\] \(key id 531f4025\) skipped: ECDSA on curve secp256k1/),
  })]);
});

describe('policyDigestOf', () => {
  const base: RoundPolicy = { akPublic: new Uint8Array([1]), pcrSelection: { sha256: [0, 7, 10] }, bootPolicy: { requiredKernelCmdline: ['roothash='] } };
  it.each<[string, RoundPolicy, string | undefined]>([
    ['a new required kernel command line term', { ...base, bootPolicy: { requiredKernelCmdline: ['roothash=', 'lockdown='] } }, 'rp1'],
    ['another PCR selection', { ...base, pcrSelection: { sha256: [0, 7] } }, 'rp1'],
    ['verity rules', { ...base, verity: { devices: [{ name: 'root', allowedRootHashes: ['ab'] }] } }, 'rp1'],
    ['another runtime policy document', base, 'rp2'],
    ['no runtime policy', base, undefined],
  ])('changes with %s', (_n, changed, rp) => {
    expect(policyDigestOf(changed, rp)).not.toBe(policyDigestOf(base, 'rp1'));
  });
  it('does not change with the AK or key order', () => {
    const reordered = { bootPolicy: { requiredKernelCmdline: ['roothash='] }, pcrSelection: { sha256: [0, 7, 10] }, akPublic: new Uint8Array([2]) };
    expect(policyDigestOf(reordered, 'rp1')).toBe(policyDigestOf(base, 'rp1'));
    expect(policyDigestOf(base, 'rp1')).toMatch(/^[0-9a-f]{64}$/);
  });
});
