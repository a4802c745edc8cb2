import * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import { startHarness, type Harness } from '../harness/harness.js';
import { repoRoot } from '../harness/repo-root.js';

const group = 'attestation.nodeward.io';
const version = 'v1alpha1';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test objects are built and mutated freely
type Obj = Record<string, any>;

let harness: Harness;
let custom: k8s.CustomObjectsApi;

beforeAll(async () => {
  harness = await startHarness({ redis: false });
  custom = harness.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
});
afterAll(async () => {
  await harness?.stop();
});

/** The API server's message for a rejected request. */
function apiMessage(error: unknown): string {
  if (!(error instanceof k8s.ApiException)) throw error;
  const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
  return (body as { message?: string }).message ?? String(error.body);
}

function createPolicy(name: string, spec: Obj): Promise<Obj> {
  return custom.createClusterCustomObject({
    group, version, plural: 'nodeattestationpolicies',
    body: { apiVersion: `${group}/${version}`, kind: 'NodeAttestationPolicy', metadata: { name }, spec },
  }) as Promise<Obj>;
}

/** A valid Enforce policy; each invalid case changes one thing. */
function validSpec(): Obj {
  return {
    nodeSelector: { matchLabels: { pool: 'secure' } },
    interval: '10s',
    tpm: {
      hashAlg: 'sha256',
      pcrs: [0, 7, 10],
      ekTrustAnchors: { configMapRef: { name: 'ek', namespace: 'nodeward-system' } },
      expectedPcrs: { '7': 'ab'.repeat(32) },
    },
    measuredBoot: { secureBootRequired: true, allowedBootDigests: ['cd'.repeat(32)] },
    ima: { runtimePolicy: { configMapRef: { name: 'ima', namespace: 'nodeward-system' }, key: 'policy.json' } },
    verity: { devices: [{ name: 'usr', allowedRootHashes: ['ef'.repeat(32)] }] },
    onFailure: { taint: { effect: 'NoSchedule' }, cordon: true, revokeCredentials: true },
    onUnreachable: { afterMisses: 2, taint: { effect: 'NoSchedule' } },
    recovery: 'Manual',
    mode: 'Enforce',
  };
}

/** kubectl table output as header cells and rows of cells, cut at the header's column offsets (cells may be empty). */
function table(stdout: string): { header: string[]; rows: string[][] } {
  const [headerLine = '', ...lines] = stdout.trimEnd().split('\n');
  const starts = [...headerLine.matchAll(/\S+/g)].map((match) => match.index);
  const cells = (line: string): string[] => starts.map((start, i) => line.slice(start, starts[i + 1]).trim());
  return { header: cells(headerLine), rows: lines.map(cells) };
}

describe('the CRDs', () => {
  it('accept valid label keys and values and intervals written in other units', async () => {
    const spec = validSpec();
    spec['interval'] = '3600000ms';
    spec['nodeSelector'] = {
      matchLabels: { 'node.kubernetes.io/instance-type': 'm5.large', 'a.b-c/x_y.z': '' },
      matchExpressions: [{ key: `${'a'.repeat(63)}.example.com/${'n'.repeat(63)}`, operator: 'In', values: ['A-1_b.2'] }],
    };
    await createPolicy('valid-label-keys', spec);
  });


  it('are installed and Established, with their short names and category', async () => {
    const api = harness.kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
    for (const [name, shortName] of [['nodeattestationpolicies', 'nap'], ['nodeattestations', 'na']] as const) {
      const crd = await api.readCustomResourceDefinition({ name: `${name}.${group}` });
      expect(crd.spec.scope).toBe('Cluster');
      expect(crd.spec.names.shortNames).toEqual([shortName]);
      expect(crd.spec.names.categories).toEqual(['attestation']);
      expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
      expect(crd.spec.versions[0]?.subresources?.status).toEqual({});
    }
  });

  it('accept the samples applied with kubectl apply -f config/samples/, defaults filled in', async () => {
    const result = await harness.kubectl(['apply', '-f', path.join(repoRoot(), 'config', 'samples')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('nodeattestationpolicy.attestation.nodeward.io/workers-enforce created');
    expect(result.stdout).toContain('nodeattestationpolicy.attestation.nodeward.io/all-nodes-audit created');
    expect(result.stdout).toContain('configmap/ima-runtime-policy created');
    const audit = (await custom.getClusterCustomObject({ group, version, plural: 'nodeattestationpolicies', name: 'all-nodes-audit' })) as Obj;
    expect(audit['spec']).toMatchObject({ mode: 'Audit', interval: '1m', recovery: 'Automatic', tpm: { hashAlg: 'sha256', akKeyType: 'rsa' } });
  });

  it('accept the valid policy the invalid cases below derive from', async () => {
    const created = await createPolicy('valid-base', validSpec());
    expect(created['spec']['onUnreachable']['afterMisses']).toBe(2);
  });

  it('print NAME NODE POLICY STATE LAST-ATTESTED REASON AGE for kubectl get nodeattestations', async () => {
    const plural = 'nodeattestations';
    const created = (await custom.createClusterCustomObject({
      group, version, plural,
      body: { apiVersion: `${group}/${version}`, kind: 'NodeAttestation', metadata: { name: 'node-a' }, spec: { nodeName: 'node-a', policyName: 'workers-enforce' } },
    })) as Obj;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    created['status'] = {
      phase: 'Untrusted',
      lastAttestationTime: now,
      lastFailure: { reason: 'ima.digest_not_allowed', detail: '/usr/bin/evil' },
      conditions: [{ type: 'Trusted', status: 'False', reason: 'ImaDigestNotAllowed', message: '/usr/bin/evil is not allowed', lastTransitionTime: now }],
      enforcement: { tainted: true, cordoned: false, credentialsRevoked: false },
      consecutiveMisses: 0,
    };
    await custom.replaceClusterCustomObjectStatus({ group, version, plural, name: 'node-a', body: created });

    const result = await harness.kubectl(['get', 'nodeattestations']);
    expect(result.code).toBe(0);
    const { header, rows } = table(result.stdout);
    expect(header).toEqual(['NAME', 'NODE', 'POLICY', 'STATE', 'LAST-ATTESTED', 'REASON', 'AGE']);
    expect(rows).toHaveLength(1);
    const [name, node, policy, state, lastAttested, reason, age] = rows[0]!;
    expect([name, node, policy, state, reason]).toEqual(['node-a', 'node-a', 'workers-enforce', 'Untrusted', 'ImaDigestNotAllowed']);
    expect(lastAttested).toMatch(/^\d+s$/);
    expect(age).toMatch(/^\d+s$/);
    expect(table((await harness.kubectl(['get', 'na'])).stdout).rows[0]?.[0]).toBe('node-a');
  });

  it('print NAME SELECTOR INTERVAL MODE NODES TRUSTED UNTRUSTED UNREACHABLE HELD AGE (and STALE wide) for kubectl get nodeattestationpolicies', async () => {
    const plural = 'nodeattestationpolicies';
    const policy = (await custom.getClusterCustomObject({ group, version, plural, name: 'workers-enforce' })) as Obj;
    policy['status'] = { observedGeneration: 1, matchedNodes: 3, trustedNodes: 1, untrustedNodes: 1, unreachableNodes: 0, heldNodes: 0, staleNodes: 1 };
    await custom.replaceClusterCustomObjectStatus({ group, version, plural, name: 'workers-enforce', body: policy });

    const result = await harness.kubectl(['get', 'nap', 'workers-enforce', 'all-nodes-audit']);
    expect(result.code).toBe(0);
    const { header, rows } = table(result.stdout);
    expect(header).toEqual(['NAME', 'SELECTOR', 'INTERVAL', 'MODE', 'NODES', 'TRUSTED', 'UNTRUSTED', 'UNREACHABLE', 'HELD', 'AGE']);
    expect(rows[0]?.slice(0, 9)).toEqual(['workers-enforce', '{"node-role.kubernetes.io/worker":""}', '30s', 'Enforce', '3', '1', '1', '0', '0']);
    expect(rows[1]?.slice(0, 9)).toEqual(['all-nodes-audit', '', '1m', 'Audit', '', '', '', '', '']);
    const wide = table((await harness.kubectl(['get', 'nap', 'workers-enforce', '-o', 'wide'])).stdout);
    expect(wide.header).toEqual(['NAME', 'SELECTOR', 'INTERVAL', 'MODE', 'NODES', 'TRUSTED', 'UNTRUSTED', 'UNREACHABLE', 'HELD', 'STALE', 'AGE']);
    expect(wide.rows[0]?.[9]).toBe('1');
  });

  it('group both kinds under kubectl get attestation', async () => {
    const result = await harness.kubectl(['get', 'attestation', '-o', 'name']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('nodeattestationpolicy.attestation.nodeward.io/workers-enforce');
    expect(result.stdout).toContain('nodeattestation.attestation.nodeward.io/node-a');
  });
});

type Mutation = (spec: Obj) => void;
/** Title, the change, what the message must contain and (optionally) what it must not. */
const invalidPolicies: [string, Mutation, string[], string[]?][] = [
  ['an interval that is not a duration', (s) => (s['interval'] = '10x'), ['spec.interval', 'should match']],
  ['an interval above 1h', (s) => (s['interval'] = '2h'), ['spec.interval', 'interval must be between 1s and 1h, got 2h']],
  ['an interval below 1s', (s) => (s['interval'] = '500ms'), ['spec.interval', 'interval must be between 1s and 1h, got 500ms']],
  // Beyond what a Go duration holds: the rule's own message, not a CEL conversion error.
  ['an interval of 99999999999999999999h', (s) => (s['interval'] = '99999999999999999999h'),
    ['spec.interval', 'interval must be between 1s and 1h, got 99999999999999999999h'], ['conversion', 'overflow', 'compilation']],
  ['an interval of four huge terms', (s) => (s['interval'] = '999999h999999h999999h999999h'),
    ['spec.interval', 'interval must be between 1s and 1h, got 999999h999999h999999h999999h'], ['conversion', 'overflow']],
  ['a selector requirement with an invalid label key', (s) => (s['nodeSelector']['matchExpressions'] = [{ key: 'bad key!', operator: 'Exists' }]),
    ['spec.nodeSelector.matchExpressions[0].key', 'key must be a label key', "got 'bad key!'"]],
  ['a selector requirement with a label key prefix over 253 characters', (s) => (s['nodeSelector']['matchExpressions'] = [{ key: `${'a'.repeat(254)}/x`, operator: 'Exists' }]),
    ['spec.nodeSelector.matchExpressions[0].key', 'key must be a label key']],
  ['a selector requirement with an invalid label value', (s) => (s['nodeSelector']['matchExpressions'] = [{ key: 'pool', operator: 'In', values: ['no spaces'] }]),
    ['spec.nodeSelector.matchExpressions[0].values[0]', 'values must be label values', "got 'no spaces'"]],
  ['matchLabels with an invalid label key', (s) => (s['nodeSelector']['matchLabels'] = { pool: 'secure', 'bad key!': 'x' }),
    ['spec.nodeSelector.matchLabels', 'keys must be label keys', "got 'bad key!'"]],
  ['matchLabels with an invalid label value', (s) => (s['nodeSelector']['matchLabels'] = { pool: 'not/valid' }),
    ['spec.nodeSelector.matchLabels[pool]', 'must be a label value', "got 'not/valid'"]],
  ['PCR 24', (s) => (s['tpm']['pcrs'] = [0, 24, 10]), ['spec.tpm.pcrs[1]', 'should be less than or equal to 23']],
  ['a duplicate PCR', (s) => (s['tpm']['pcrs'] = [0, 7, 7, 10]), ['spec.tpm.pcrs[2]', 'Duplicate value: 7']],
  ['an unknown hash algorithm', (s) => (s['tpm']['hashAlg'] = 'md5'), ['spec.tpm.hashAlg', 'Unsupported value: "md5"']],
  ['an unknown AK key type', (s) => (s['tpm']['akKeyType'] = 'dsa'), ['spec.tpm.akKeyType', 'Unsupported value: "dsa"']],
  ['a boot digest that is not hex', (s) => (s['measuredBoot']['allowedBootDigests'] = ['zz'.repeat(32)]), ['spec.measuredBoot.allowedBootDigests[0]', 'should match']],
  ['a sha1 boot digest in the sha256 bank', (s) => (s['measuredBoot']['allowedBootDigests'] = ['ab'.repeat(20)]), ['spec.measuredBoot.allowedBootDigests', 'must be sha256 digests (64 hex digits)']],
  ['an expected PCR value of the wrong length', (s) => (s['tpm']['expectedPcrs'] = { '7': 'ab'.repeat(20) }), ['spec.tpm.expectedPcrs', 'must be 64 hex digits long for hashAlg sha256']],
  ['an expected PCR index out of range', (s) => (s['tpm']['expectedPcrs'] = { '24': 'ab'.repeat(32) }), ['spec.tpm.expectedPcrs', 'keys must be PCR indices 0-23']],
  ['an expected PCR not quoted', (s) => (s['tpm']['expectedPcrs'] = { '4': 'ab'.repeat(32) }), ['spec.tpm.expectedPcrs', 'must also be listed in pcrs']],
  ['a verity root hash that is not hex', (s) => (s['verity']['devices'][0]['allowedRootHashes'] = ['xyz']), ['spec.verity.devices[0].allowedRootHashes[0]', 'should match']],
  ['an unknown taint effect', (s) => (s['onFailure']['taint']['effect'] = 'Evict'), ['spec.onFailure.taint.effect', 'Unsupported value: "Evict"', '"NoExecute"']],
  ['cordon in Audit mode', (s) => { s['mode'] = 'Audit'; delete s['onFailure']['taint']; delete s['onFailure']['revokeCredentials']; delete s['onUnreachable']['taint']; },
    ['spec.onFailure.cordon', 'Forbidden', 'requires mode Enforce']],
  ['an unreachable taint in Audit mode', (s) => { s['mode'] = 'Audit'; s['onFailure'] = {}; }, ['spec.onUnreachable.taint', 'Forbidden', 'requires mode Enforce']],
  ['an unknown mode', (s) => (s['mode'] = 'Observe'), ['spec.mode', 'Unsupported value: "Observe"', '"Enforce"', '"Audit"']],
  ['an unknown recovery', (s) => (s['recovery'] = 'Never'), ['spec.recovery', 'Unsupported value: "Never"']],
  ['a negative afterMisses', (s) => (s['onUnreachable']['afterMisses'] = -1), ['spec.onUnreachable.afterMisses', 'should be greater than or equal to 1']],
  ['Enforce without EK trust anchors', (s) => delete s['tpm']['ekTrustAnchors'], ['spec.tpm.ekTrustAnchors', 'Required value', 'tpm.ekTrustAnchors is required in mode Enforce']],
  ['IMA without PCR 10', (s) => (s['tpm']['pcrs'] = [0, 7]), ['spec.tpm.pcrs', 'ima requires PCR 10']],
  ['Secure Boot without PCR 7', (s) => { s['tpm']['pcrs'] = [0, 10]; s['tpm']['expectedPcrs'] = {}; }, ['spec.tpm.pcrs', 'secureBootRequired requires PCR 7']],
  ['an In requirement without values', (s) => (s['nodeSelector']['matchExpressions'] = [{ key: 'pool', operator: 'In' }]),
    ['spec.nodeSelector.matchExpressions[0].values', 'values must be non-empty when operator is In']],
  ['a missing tpm section', (s) => delete s['tpm'], ['spec.tpm', 'Required value']],
];

describe('invalid NodeAttestationPolicies are rejected with a message naming the field', () => {
  it.each(invalidPolicies)('%s', async (_title, mutate, expected, unexpected = []) => {
    const spec = validSpec();
    mutate(spec);
    const name = `invalid-${Math.random().toString(36).slice(2, 10)}`;
    const message = await createPolicy(name, spec).then(
      () => 'accepted',
      (error: unknown) => apiMessage(error),
    );
    expect(message).toContain(`NodeAttestationPolicy.attestation.nodeward.io "${name}" is invalid`);
    for (const part of expected) expect(message).toContain(part);
    for (const part of unexpected) expect(message).not.toContain(part);
  });
});

describe('NodeAttestation validation', () => {
  const plural = 'nodeattestations';

  it('keeps spec.nodeName immutable', async () => {
    const body = { apiVersion: `${group}/${version}`, kind: 'NodeAttestation', metadata: { name: 'node-b' }, spec: { nodeName: 'node-b', policyName: 'p' } };
    const created = (await custom.createClusterCustomObject({ group, version, plural, body })) as Obj;
    created['spec']['nodeName'] = 'node-c';
    const message = await custom.replaceClusterCustomObject({ group, version, plural, name: 'node-b', body: created }).then(() => 'accepted', apiMessage);
    expect(message).toContain('spec.nodeName');
    expect(message).toContain('nodeName is immutable');
  });

  it.each([
    ['an unknown phase', { phase: 'Compromised' }, ['status.phase', 'Unsupported value: "Compromised"']],
    ['an EK fingerprint that is not sha256 hex', { identity: { ekCertificateFingerprint: 'abc', akName: `000b${'ab'.repeat(32)}` } }, ['status.identity.ekCertificateFingerprint', 'should match']],
    ['a failure reason that is not component.event', { lastFailure: { reason: 'ImaFailed' } }, ['status.lastFailure.reason', 'should match']],
    ['a condition status other than True/False/Unknown', { conditions: [{ type: 'Trusted', status: 'Maybe', reason: 'X', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
      ['status.conditions[0].status', 'Unsupported value: "Maybe"']],
    ['negative consecutiveMisses', { consecutiveMisses: -1 }, ['status.consecutiveMisses', 'should be greater than or equal to 0']],
  ] as [string, Obj, string[]][])('rejects a status with %s', async (_title, status, expected) => {
    const name = `status-${Math.random().toString(36).slice(2, 10)}`;
    const body = { apiVersion: `${group}/${version}`, kind: 'NodeAttestation', metadata: { name }, spec: { nodeName: name, policyName: 'p' } };
    const created = (await custom.createClusterCustomObject({ group, version, plural, body })) as Obj;
    created['status'] = status;
    const message = await custom.replaceClusterCustomObjectStatus({ group, version, plural, name, body: created }).then(() => 'accepted', apiMessage);
    for (const part of expected) expect(message).toContain(part);
  });
});
