import type { EnforcementAction } from '../decide/actions.js';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { silentLogger } from '../log.js';
import type { AttestationTarget, RoundScheduler } from '../ports.js';
import type { TpmChecks } from '../registration/register-identity.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { IdentityClaims } from '../registration/identity-claims.js';
import { makeNodeReconciler, policyKey } from './node-reconciler.js';
import { shardLabelValue, shardOf } from '../queue/round-job.js';
import { SHARD_LABEL } from '../status/resources.js';

const name = Buffer.from('000b' + '11'.repeat(32), 'hex');
const tpm = {
  verifyEkCertificate: async () => Promise.resolve({ ok: true, failures: [], fingerprintSha256: 'f'.repeat(64) }),
  verifyAkAttributes: () => [], akNameOf: () => name,
  makeCredential: () => ({ credentialBlob: Buffer.from('b'), encryptedSecret: Buffer.from('e') }),
} as unknown as TpmChecks;

function setup(policies: NodeAttestationPolicy[], nodes: NodeView[], ensure?: RoundScheduler['ensure']): {
  cluster: MemoryCluster; run: (k: string) => Promise<unknown>; schedule: Map<string, AttestationTarget>; enforced: [string, EnforcementAction[]][];
} {
  const cluster = new MemoryCluster();
  const schedule = new Map<string, AttestationTarget>();
  const enforced: [string, EnforcementAction[]][] = [];
  const scheduler: RoundScheduler = {
    ensure: ensure ?? ((t) => Promise.resolve(void schedule.set(t.nodeName, t))), remove: (n) => Promise.resolve(void schedule.delete(n)), list: async () => Promise.resolve([...schedule.keys()]),
  };
  const run = makeNodeReconciler({
    cluster, scheduler, heartbeatMs: 300_000, log: silentLogger, schedulerTimeoutMs: 50, plan: { agentPort: 9443, defaultIntervalMs: 30_000 },
    caches: { policies: () => policies, nodes: () => nodes.map((n) => cluster.nodes.get(n.metadata.name) ?? n), nodeAttestations: () => [...cluster.attestations.values()] as NodeAttestation[], configMap: () => ({ metadata: { name: 'a' }, data: { 'ca.pem': 'PEM' } }) },
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
    expect(enforced.map(([n, a]) => [n, a.map((x) => `${x.kind}:${'op' in x ? x.op : ''}`)])).toEqual([['n1', ['taint:lift', 'taint:lift', 'cordon:lift', 'drain:lift', 'quarantine:lift', 'revoke-credentials:']]]);
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

  it('labels the NodeAttestation with its round shard, and re-applies one whose label is missing or stale', async () => {
    const { cluster, run } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })]);
    await run('n1');
    const label = (): string | undefined => cluster.attestations.get('n1')!.metadata.labels?.[SHARD_LABEL];
    const want = shardLabelValue(shardOf('n1', 30_000).id);
    expect(label()).toBe(want);
    const writes = (): number => cluster.writes.filter((w) => w === 'apply na/n1').length;
    // Labelled and up to date: the next pass writes no spec.
    await run('n1').catch(() => undefined);
    expect(writes()).toBe(1);
    for (const stale of [undefined, '30000-9999']) {
      const labels = { ...cluster.attestations.get('n1')!.metadata.labels };
      if (stale === undefined) delete labels[SHARD_LABEL];
      else labels[SHARD_LABEL] = stale;
      cluster.attestations.get('n1')!.metadata.labels = labels;
      expect(await run('n1')).toEqual({ requeueAfterMs: 1000 });
      expect(label()).toBe(want);
    }
    expect(writes()).toBe(3);
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
    expect(enforced.at(-1)![1].map((a) => `${a.kind}:${'op' in a ? a.op : ''}`)).toEqual(['taint:lift', 'taint:lift', 'cordon:lift', 'drain:lift', 'quarantine:lift', 'revoke-credentials:']);
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
    expect(cluster.policyStatus.get('a')).toMatchObject({ matchedNodes: 0, conditions: [{ type: 'PolicyConflict', status: 'True' }, { type: 'SelectorProtected', status: 'False' }, { type: 'RuntimePolicyReady', status: 'True' },
      // The test's trust anchors ConfigMap holds 'PEM', not a certificate.
      { type: 'TrustAnchorsReady', status: 'False', reason: 'NoCertificates' }] });
    expect(cluster.events.filter((e) => e.reason === 'PolicyInvalid').map((e) => e.message)).toEqual([expect.stringMatching(/^spec\.tpm\.ekTrustAnchors: ConfigMap b\/a holds no PEM certificate/)]);
  });

  it('does not rewrite an unchanged policy status whose fields the API server returned in another order', async () => {
    // The API server returns JSON with sorted keys: the same status must not look changed.
    const audit = policy('p', { 'node-restriction.kubernetes.io/r': 'w' });
    const p: NodeAttestationPolicy = { ...audit, spec: { ...audit.spec, mode: 'Audit', tpm: { pcrs: [0] } }, status: { conditions: [
      { lastTransitionTime: '2026-01-01T00:00:00.000Z', message: '', observedGeneration: 1, reason: 'NoConflict', status: 'False', type: 'PolicyConflict' },
      { lastTransitionTime: '2026-01-01T00:00:00.000Z', message: '', observedGeneration: 1, reason: 'NotConfigured', status: 'True', type: 'RuntimePolicyReady' },
      { lastTransitionTime: '2026-01-01T00:00:00.000Z', message: 'no selector label can be written by a node\'s kubelet', observedGeneration: 1, reason: 'RestrictedLabels', status: 'True', type: 'SelectorProtected' },
      { lastTransitionTime: '2026-01-01T00:00:00.000Z', message: '', observedGeneration: 1, reason: 'NotConfigured', status: 'True', type: 'TrustAnchorsReady' },
    ], heldNodes: 0, matchedNodes: 1, observedGeneration: 1, staleNodes: 0, trustedNodes: 0, unreachableNodes: 0, untrustedNodes: 0 } };
    const { cluster, run } = setup([p], [node('n1', { 'node-restriction.kubernetes.io/r': 'w' })]);
    await run(policyKey('p'));
    expect(cluster.policyStatus.has('p')).toBe(false);
  });

  const registered = (status: NonNullable<NodeAttestation['status']>): NonNullable<NodeAttestation['status']> => ({
    identity: { ekCertificateFingerprint: 'f'.repeat(64), akName: name.toString('hex'), akPublic: 'AAEC', agentAddress: '10.0.0.9' }, ...status,
  });

  it('keeps the attestation and enforcement of a node that left the selector while enforced, and says so once', async () => {
    const nodes = [node('n1', { r: 'w' })];
    const { cluster, run, schedule, enforced } = setup([policy('p', { r: 'w' })], nodes);
    await run('n1');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Untrusted', enforcement: { tainted: true, cordoned: true } });
    schedule.set('n1', {} as AttestationTarget);
    nodes[0] = node('n1', { r: 'db' }); // the node's kubelet removed the label
    await run('n1');
    await run('n1');
    expect(cluster.attestations.has('n1')).toBe(true);
    expect(schedule.has('n1')).toBe(false);
    expect(enforced.at(-1)![1].filter((a) => 'op' in a && a.op === 'apply').map((a) => a.kind)).toEqual(['taint', 'cordon']);
    const left = cluster.attestations.get('n1')!.status?.conditions?.find((c) => c.type === 'LeftPolicy');
    expect(left).toMatchObject({ status: 'True', reason: 'LeftPolicyWhileEnforced' });
    expect(left?.message).toContain('deletes NodeAttestation n1');
    expect(cluster.events.map((e) => e.reason)).toEqual(['LeftPolicyWhileEnforced']);
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Untrusted');
    // Selected again: attested again, the condition ends; still Untrusted until a round passes.
    nodes[0] = node('n1', { r: 'w' });
    await run('n1');
    expect(cluster.attestations.get('n1')!.status?.conditions?.find((c) => c.type === 'LeftPolicy')).toMatchObject({ status: 'False', reason: 'Selected' });
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Untrusted');
    expect(schedule.has('n1')).toBe(true);
  });

  it('takes a conflicted node out of Trusted and keeps attesting it under its policy', async () => {
    const policies = [policy('a', { r: 'w' })];
    const { cluster, run, schedule } = setup(policies, [node('n1', { r: 'w', z: '1' })]);
    await run('n1');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date().toISOString() });
    policies.push(policy('b', { z: '1' }));
    await run('n1');
    const status = cluster.attestations.get('n1')!.status!;
    expect(status.phase).toBe('Conflict');
    expect(status.conditions?.find((c) => c.type === 'PolicyConflict')).toMatchObject({ status: 'True' });
    expect(status.conditions?.find((c) => c.type === 'Trusted')).toMatchObject({ status: 'False', reason: 'MultiplePolicies' });
    expect(schedule.get('n1')?.policyName).toBe('a');
    expect(cluster.events.map((e) => e.reason)).toEqual(['PolicyConflict']);
    // Resolved: the conflict condition ends; the node stays in Conflict until a round passes.
    policies.pop();
    await run('n1');
    expect(cluster.attestations.get('n1')!.status?.conditions?.find((c) => c.type === 'PolicyConflict')).toMatchObject({ status: 'False' });
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Conflict');
  });

  it('makes a Trusted node without a recent passing round Stale even while the schedule cannot be reached (Redis down)', async () => {
    let redisDown = false;
    const { cluster, run, schedule } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })],
      (t) => (redisDown ? new Promise<void>(() => undefined) : Promise.resolve(void schedule.set(t.nodeName, t))));
    await run('n1');
    const old = new Date(Date.now() - 400_000).toISOString(); // window: 300 s heartbeat + 90 s (3 × 30 s)
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: old });
    redisDown = true;
    const pending = run('n1').catch((e: unknown) => e); // the schedule never answers, as ensure() with Redis down
    await new Promise((resolve) => setImmediate(resolve));
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Stale');
    // The wait on the scheduler is bounded: the key is retried instead of hanging.
    expect(await pending).toEqual(new Error('the round scheduler did not answer within 50 ms'));
    expect(cluster.attestations.get('n1')!.status?.conditions?.find((c) => c.type === 'Trusted')).toMatchObject({ status: 'Unknown', reason: 'RoundsStale' });
    expect(cluster.events.map((e) => e.reason)).toEqual(['AttestationStale']);
  });

  it('requeues a fresh Trusted node for when it would go stale', async () => {
    const { cluster, run } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })]);
    await run('n1');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date().toISOString() });
    const r = await run('n1') as { requeueAfterMs: number };
    expect(r.requeueAfterMs).toBeGreaterThan(380_000);
    expect(r.requeueAfterMs).toBeLessThanOrEqual(391_000);
  });

  it('does not hang a fresh node\'s reconcile on a scheduler that never answers, so a later pass can find it stale', async () => {
    let redisDown = false;
    const { cluster, run, schedule } = setup([policy('p', { r: 'w' })], [node('n1', { r: 'w' })],
      (t) => (redisDown ? new Promise<void>(() => undefined) : Promise.resolve(void schedule.set(t.nodeName, t))));
    await run('n1');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date().toISOString() });
    redisDown = true;
    await expect(run('n1')).rejects.toThrow('did not answer within 50 ms');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date(Date.now() - 400_000).toISOString() });
    await expect(run('n1')).rejects.toThrow('did not answer');
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Stale');
  });

  describe('the Node condition attestation.nodeward.io/Trusted', () => {
    const trustedCondition = (c: MemoryCluster): unknown => c.nodes.get('n1')?.status?.conditions?.find((x) => x.type === 'attestation.nodeward.io/Trusted');
    const writesTo = (c: MemoryCluster): number => c.writes.filter((w) => w === 'status node/n1').length;

    it('is written when the attestation changes, and only then', async () => {
      const n1 = node('n1', { r: 'w' });
      const { cluster, run } = setup([policy('p', { r: 'w' })], [n1]);
      cluster.nodes.set('n1', structuredClone(n1));
      await run('n1');
      expect(trustedCondition(cluster)).toMatchObject({ status: 'Unknown', reason: 'AwaitingAttestation' });
      cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date().toISOString(), conditions: [{ type: 'Trusted', status: 'True', reason: 'AttestationPassed', message: 'ok', lastTransitionTime: new Date().toISOString() }] });
      await run('n1');
      expect(trustedCondition(cluster)).toMatchObject({ status: 'True', reason: 'AttestationPassed' });
      const before = writesTo(cluster);
      await run('n1');
      await run('n1');
      expect(writesTo(cluster)).toBe(before);
    });

    it('is put back when the node\'s kubelet overwrites it', async () => {
      const n1 = node('n1', { r: 'w' });
      const { cluster, run } = setup([policy('p', { r: 'w' })], [n1]);
      cluster.nodes.set('n1', structuredClone(n1));
      await run('n1');
      cluster.attestations.get('n1')!.status = registered({ phase: 'Untrusted', conditions: [{ type: 'Trusted', status: 'False', reason: 'AttestationFailed', message: 'ima.digest_not_allowed', lastTransitionTime: new Date().toISOString() }] });
      await run('n1');
      expect(trustedCondition(cluster)).toMatchObject({ status: 'False', reason: 'AttestationFailed' });
      const node1 = cluster.nodes.get('n1')!;
      node1.status!.conditions = [{ type: 'attestation.nodeward.io/Trusted', status: 'True', reason: 'AttestationPassed', message: 'forged' }];
      await run('n1');
      expect(trustedCondition(cluster)).toMatchObject({ status: 'False', reason: 'AttestationFailed' });
    });

    it('leaves True as soon as the last passing round is past the window, even when the reconcile fails on Redis', async () => {
      let redisDown = false;
      const n1 = node('n1', { r: 'w' });
      const { cluster, run, schedule } = setup([policy('p', { r: 'w' })], [n1],
        (t) => (redisDown ? new Promise<void>(() => undefined) : Promise.resolve(void schedule.set(t.nodeName, t))));
      cluster.nodes.set('n1', structuredClone(n1));
      await run('n1');
      const passed = [{ type: 'Trusted', status: 'True' as const, reason: 'AttestationPassed', message: 'ok', lastTransitionTime: new Date().toISOString() }];
      cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date().toISOString(), conditions: passed });
      await run('n1');
      expect(trustedCondition(cluster)).toMatchObject({ status: 'True' });
      redisDown = true;
      cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date(Date.now() - 400_000).toISOString(), conditions: passed });
      await expect(run('n1')).rejects.toThrow('did not answer');
      expect(trustedCondition(cluster)).toMatchObject({ status: 'Unknown', reason: 'RoundsStale' });
    });

    it('turns Unknown when the node leaves every policy, and is not written on nodes no policy attests', async () => {
      const n1 = node('n1', { r: 'w' });
      const other = node('n2', { r: 'db' });
      const { cluster, run } = setup([policy('p', { r: 'w' })], [n1, other]);
      cluster.nodes.set('n1', structuredClone(n1));
      cluster.nodes.set('n2', structuredClone(other));
      await run('n1');
      await run('n2');
      expect(cluster.writes).not.toContain('status node/n2');
      cluster.nodes.get('n1')!.metadata.labels = { r: 'db' };
      await run('n1');
      expect(cluster.attestations.has('n1')).toBe(false);
      expect(trustedCondition(cluster)).toMatchObject({ status: 'Unknown', reason: 'NotAttested' });
    });
  });

  it('a node Stale because its runtime policy cannot be used says which field and why', async () => {
    const p = policy('p', { r: 'w' });
    p.spec.ima = { runtimePolicy: { configMapRef: { name: 'rp', namespace: 'b' }, key: 'policy.json' } };
    const { cluster, run } = setup([p], [node('n1', { r: 'w' })]);
    await run('n1');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date(Date.now() - 400_000).toISOString() });
    await run('n1');
    const trusted = cluster.attestations.get('n1')!.status?.conditions?.find((c) => c.type === 'Trusted');
    expect(trusted).toMatchObject({ status: 'Unknown', reason: 'RoundsStale' });
    expect(trusted?.message).toMatch(/^no round runs: policy p KeyNotFound: spec\.ima\.runtimePolicy: /);
    expect(cluster.events.find((e) => e.reason === 'AttestationStale')?.message).toBe(trusted?.message);
  });

  it('makes a Trusted node without an address Stale (no round can run)', async () => {
    const noIp: NodeView = { metadata: { name: 'n1', labels: { r: 'w' } }, status: { addresses: [] } };
    const { cluster, run } = setup([policy('p', { r: 'w' })], [noIp]);
    await run('n1');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date(Date.now() - 100_000).toISOString() });
    expect(await run('n1')).toEqual({ requeueAfterMs: 30_000 });
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Trusted');
    cluster.attestations.get('n1')!.status = registered({ phase: 'Trusted', lastSuccessTime: new Date(Date.now() - 400_000).toISOString() });
    await run('n1');
    expect(cluster.attestations.get('n1')!.status?.phase).toBe('Stale');
  });
});
