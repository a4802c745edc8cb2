import type { EnforcementAction } from '../decide/actions.js';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { silentLogger } from '../log.js';
import type { AttestationTarget, RoundScheduler } from '../ports.js';
import type { TpmChecks } from '../registration/register-identity.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { IdentityClaims } from '../registration/identity-claims.js';
import { makeNodeReconciler, policyKey } from './node-reconciler.js';

const name = Buffer.from('000b' + '11'.repeat(32), 'hex');
const tpm = {
  verifyEkCertificate: async () => Promise.resolve({ ok: true, failures: [], fingerprintSha256: 'f'.repeat(64) }),
  verifyAkAttributes: () => [], akNameOf: () => name,
  makeCredential: () => ({ credentialBlob: Buffer.from('b'), encryptedSecret: Buffer.from('e') }),
} as unknown as TpmChecks;

function setup(policies: NodeAttestationPolicy[], nodes: NodeView[]): {
  cluster: MemoryCluster; run: (k: string) => Promise<unknown>; schedule: Map<string, AttestationTarget>; enforced: [string, EnforcementAction[]][];
} {
  const cluster = new MemoryCluster();
  const schedule = new Map<string, AttestationTarget>();
  const enforced: [string, EnforcementAction[]][] = [];
  const scheduler: RoundScheduler = {
    ensure: (t) => Promise.resolve(void schedule.set(t.nodeName, t)), remove: (n) => Promise.resolve(void schedule.delete(n)), list: async () => Promise.resolve([...schedule.keys()]),
  };
  const run = makeNodeReconciler({
    cluster, scheduler, heartbeatMs: 300_000, log: silentLogger, plan: { agentPort: 9443, defaultIntervalMs: 30_000 },
    caches: { policies: () => policies, nodes: () => nodes, nodeAttestations: () => [...cluster.attestations.values()] as NodeAttestation[], configMap: () => ({ metadata: { name: 'a' }, data: { 'ca.pem': 'PEM' } }) },
    claims: new IdentityClaims(cluster, 'nodeward-system'),
    registration: {
      tpm,
      agent: { identity: async () => Promise.resolve({ ekCertificates: [{ keyType: 'rsa', der: 'AA==' }], ekPublic: 'AA==', akPublic: 'AAEC', akName: name.toString('hex'), tpm: { manufacturer: 'x', firmwareVersion: '1' } }),
        activate: () => Promise.reject(new Error('secret unknown')) },
    },
    enforce: (na, actions) => Promise.resolve(void enforced.push([na.metadata.name, actions])),
  });
  return { cluster, run, schedule, enforced };
}
const policy = (n: string, labels: Record<string, string>): NodeAttestationPolicy => ({
  metadata: { name: n, uid: `uid-${n}`, generation: 1 },
  spec: { nodeSelector: { matchLabels: labels }, tpm: { pcrs: [0], ekTrustAnchors: { configMapRef: { name: 'a', namespace: 'b' } } }, onFailure: { taint: { effect: 'NoSchedule' } } },
});
const node = (n: string, labels: Record<string, string>): NodeView => ({ metadata: { name: n, labels }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.9' }] } });

describe('node reconciler', () => {
  it('lifts our actions from a node no policy attests (a round in flight re-tainted it after removal)', async () => {
    const stray: NodeView = { ...node('n1', { r: 'db' }), spec: { taints: [{ key: 'attestation.nodeward.io/untrusted', effect: 'NoSchedule' }, { key: 'other', effect: 'NoSchedule' }] } };
    const { run, enforced } = setup([policy('p', { r: 'w' })], [stray, node('n2', { r: 'db' })]);
    await run('n1');
    expect(enforced.map(([n, a]) => [n, a.map((x) => `${x.kind}:${'op' in x ? x.op : ''}`)])).toEqual([['n1', ['taint:lift', 'taint:lift', 'cordon:lift', 'revoke-credentials:']]]);
    await run('n2');
    expect(enforced).toHaveLength(1);
  });

  it('creates the NodeAttestation, retries registration on an agent error, and schedules nothing', async () => {
    const { cluster, run, schedule } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })]);
    expect(await run('n1')).toEqual({ requeueAfterMs: 1000 });
    expect(cluster.attestations.get('n1')!.spec).toEqual({ nodeName: 'n1', policyName: 'p' });
    await expect(run('n1')).rejects.toThrow('secret unknown'); // agent error: retried with backoff
    expect(schedule.size).toBe(0);
  });

  it('schedules a registered node before converging its enforcement, so its first round does not wait for that', async () => {
    const { cluster, run, schedule, enforced } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })]);
    await run('n1');
    const na = cluster.attestations.get('n1')!;
    na.status = { phase: 'Registered', identity: { akName: name.toString('hex'), akPublic: 'AAEC', ekCertificateFingerprint: 'f'.repeat(64), agentAddress: '10.0.0.9' } };
    const before = enforced.length;
    // The convergence's status write fails: the schedule is already there.
    cluster.failNext('applyNodeAttestationStatus', new Error('API server down'));
    await expect(run('n1')).rejects.toThrow('API server down');
    expect(schedule.get('n1')).toMatchObject({ nodeName: 'n1', agentUrl: 'https://n1@10.0.0.9:9443' });
    expect(enforced.length).toBe(before);
  });

  it('converges enforcement and schedules a registered node', async () => {
    const { cluster, run, schedule, enforced } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })]);
    await run('n1');
    cluster.attestations.get('n1')!.status = { phase: 'Untrusted', identity: { ekCertificateFingerprint: 'f'.repeat(64), akName: name.toString('hex'), akPublic: 'AAEC', agentAddress: '10.0.0.9' }, enforcement: { tainted: true } };
    expect(await run('n1')).toBeUndefined();
    expect(schedule.get('n1')).toEqual({ nodeName: 'n1', policyName: 'p', agentUrl: 'https://n1@10.0.0.9:9443', intervalMs: 30_000 });
    expect(enforced[0]![1][0]).toEqual({ kind: 'taint', op: 'apply', key: 'attestation.nodeward.io/untrusted', effect: 'NoSchedule' });
  });

  it('deletes the attestation of a node that left the selector, lifting actions and revoking', async () => {
    const nodes = [node('n1', { r: 'w' })];
    const { cluster, run, schedule, enforced } = setup([policy('p', { r: 'w' })], nodes);
    await run('n1');
    schedule.set('n1', {} as AttestationTarget);
    nodes[0] = node('n1', { r: 'db' });
    await run('n1');
    expect(cluster.attestations.has('n1')).toBe(false);
    expect(schedule.has('n1')).toBe(false);
    expect(enforced.at(-1)![1].map((a) => `${a.kind}:${'op' in a ? a.op : ''}`)).toEqual(['taint:lift', 'taint:lift', 'cordon:lift', 'revoke-credentials:']);
  });

  it('reports a policy conflict once (Event + condition), does not attest, and marks both policies', async () => {
    const policies = [policy('a', { r: 'w' }), policy('b', { z: '1' })];
    const { cluster, run, schedule } = setup(policies, [node('n1', { r: 'w', z: '1' })]);
    await run('n1');
    await run('n1');
    expect(cluster.events.map((e) => e.reason)).toEqual(['PolicyConflict']);
    expect(cluster.attestations.size).toBe(0);
    expect(schedule.size).toBe(0);
    await run(policyKey('a'));
    expect(cluster.policyStatus.get('a')).toMatchObject({ matchedNodes: 0, conditions: [{ type: 'PolicyConflict', status: 'True' }] });
  });

  it('does not rewrite an unchanged policy status whose fields the API server returned in another order', async () => {
    // The API server returns JSON with sorted keys: the same status must not look changed.
    const p: NodeAttestationPolicy = { ...policy('p', { r: 'w' }), status: { conditions: [
      { lastTransitionTime: '2026-01-01T00:00:00.000Z', message: '', observedGeneration: 1, reason: 'NoConflict', status: 'False', type: 'PolicyConflict' },
    ], matchedNodes: 1, observedGeneration: 1 } };
    const { cluster, run } = setup([p], [node('n1', { r: 'w' })]);
    await run(policyKey('p'));
    expect(cluster.policyStatus.has('p')).toBe(false);
  });
});
