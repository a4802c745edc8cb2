import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startHarness, type Harness } from '@nodeward/e2e';
import { makeInformers, type Informers } from './informers.js';
import { realisticNode } from './testing/realistic-node.js';

let h: Harness;
let informers: Informers | undefined;
const NA = { group: 'attestation.nodeward.io', version: 'v1alpha1', plural: 'nodeattestations' };

beforeAll(async () => {
  h = await startHarness({ redis: false });
});
afterAll(async () => {
  await informers?.stop();
  await h?.stop();
});

async function until<T>(read: () => T | undefined): Promise<T> {
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('caches NodeAttestations without their managedFields (the API server keeps them)', async () => {
  const custom = h.kubeConfig.makeApiClient(CustomObjectsApi);
  const body = (name: string): object => ({ apiVersion: `${NA.group}/${NA.version}`, kind: 'NodeAttestation', metadata: { name }, spec: { nodeName: name, policyName: 'p' } });
  // One listed at start, one delivered by the watch.
  await custom.createClusterCustomObject({ ...NA, body: body('listed') });
  informers = makeInformers(h.kubeConfig, () => undefined);
  await informers.start();
  await custom.createClusterCustomObject({ ...NA, body: body('watched') });
  const cached = await Promise.all(['listed', 'watched'].map((n) => until(() => informers!.nodeAttestation(n))));
  const stored = await custom.getClusterCustomObject({ ...NA, name: 'watched' }) as { metadata: { managedFields?: unknown[] } };
  expect(stored.metadata.managedFields?.length).toBeGreaterThan(0);
  expect(cached.map((na) => (na.metadata as { managedFields?: unknown }).managedFields)).toEqual([undefined, undefined]);
  expect(cached.map((na) => na.spec.nodeName)).toEqual(['listed', 'watched']);
});

it('keeps the Node index up to date from watch events: an update is seen, a deletion forgotten', async () => {
  const core = h.kubeConfig.makeApiClient(CoreV1Api);
  informers ??= makeInformers(h.kubeConfig, () => undefined);
  await informers.start().catch(() => undefined);
  await core.createNode({ body: { metadata: { name: 'indexed-node', labels: { stage: 'one' } } } });
  await until(() => informers!.node('indexed-node'));
  await core.patchNode({ name: 'indexed-node', body: { metadata: { labels: { stage: 'two' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await until(() => (informers!.node('indexed-node')?.metadata.labels?.stage === 'two' ? true : undefined));
  expect(informers.nodes().filter((n) => n.metadata.name === 'indexed-node')).toHaveLength(1);
  await core.deleteNode({ name: 'indexed-node' });
  await until(() => (informers!.node('indexed-node') === undefined ? true : undefined));
  expect(informers.nodes().some((n) => n.metadata.name === 'indexed-node')).toBe(false);
});

it("caches a realistic Node as what the operator reads of it: labels, addresses, taints, its own annotations", async () => {
  const core = h.kubeConfig.makeApiClient(CoreV1Api);
  informers ??= makeInformers(h.kubeConfig, () => undefined);
  await informers.start().catch(() => undefined);
  const full = realisticNode('realistic-node', '10.0.9.9', { 'node-restriction.kubernetes.io/attest': 'true' });
  full.metadata!.annotations!['attestation.nodeward.io/cordoned-by'] = 'nodeward';
  full.spec!.taints = [{ key: 'attestation.nodeward.io/untrusted', effect: 'NoSchedule' }];
  const ours = { type: 'attestation.nodeward.io/Trusted', status: 'True', reason: 'Attested', message: 'the last round passed', lastTransitionTime: new Date('2026-12-01T00:00:00Z'), lastHeartbeatTime: new Date('2026-12-01T00:00:00Z') };
  full.status!.conditions!.push(ours);
  const created = await core.createNode({ body: { ...full, status: {} } });
  await core.replaceNodeStatus({ name: 'realistic-node', body: { ...created, status: full.status } });
  const stored = await core.readNode({ name: 'realistic-node' });
  const cached = await until(() => (informers!.node('realistic-node')?.metadata.resourceVersion === stored.metadata!.resourceVersion ? informers!.node('realistic-node') : undefined));
  expect(stored.status?.images).toHaveLength(50);
  expect(stored.spec?.taints?.map((t) => t.key)).toContain('attestation.nodeward.io/untrusted');
  expect(cached).toEqual({
    metadata: { name: 'realistic-node', uid: stored.metadata!.uid, resourceVersion: stored.metadata!.resourceVersion, labels: stored.metadata!.labels, annotations: { 'attestation.nodeward.io/cordoned-by': 'nodeward' } },
    // Ours, and what the API server's admission added (node.kubernetes.io/not-ready).
    spec: { taints: stored.spec!.taints!.map((t) => ({ key: t.key, effect: t.effect })), unschedulable: false },
    // Its own condition kept (or it would write it again every round); the kubelet's five gone.
    status: { addresses: full.status!.addresses!.map((a) => ({ type: a.type, address: a.address })), conditions: [{ ...ours, lastTransitionTime: '2026-12-01T00:00:00.000Z', lastHeartbeatTime: '2026-12-01T00:00:00.000Z' }] },
  });
  await core.deleteNode({ name: 'realistic-node' });
});

it('caches only the scoped shards\' NodeAttestations and no Nodes on a follower, and the fleet on the leader', async () => {
  const custom = h.kubeConfig.makeApiClient(CustomObjectsApi);
  const core = h.kubeConfig.makeApiClient(CoreV1Api);
  const labelled = (name: string, shard: string): object => ({
    apiVersion: `${NA.group}/${NA.version}`, kind: 'NodeAttestation', metadata: { name, labels: { 'attestation.nodeward.io/shard': shard.replace(':', '-') } }, spec: { nodeName: name, policyName: 'p' },
  });
  await custom.createClusterCustomObject({ ...NA, body: labelled('in-a', '10000:1') });
  await custom.createClusterCustomObject({ ...NA, body: labelled('in-b', '10000:2') });
  for (const n of ['in-a-2', 'in-a-3']) await custom.createClusterCustomObject({ ...NA, body: labelled(n, '10000:1') });
  await core.createNode({ body: { metadata: { name: 'scoped-node' } } });
  // Pages of 2: every list here takes several pages (continue), as a 10,000-node list does at 500.
  const scoped = makeInformers(h.kubeConfig, () => undefined, { scope: { kind: 'shards', shards: new Set(['10000:1']) }, listPageSize: 2 });
  try {
    await scoped.start();
    expect(scoped.synced()).toBe(true);
    const names = (): string[] => scoped.nodeAttestations().map((a) => a.spec.nodeName).sort();
    expect(names()).toEqual(['in-a', 'in-a-2', 'in-a-3']);
    expect(scoped.nodes()).toEqual([]);
    // A NodeAttestation created in scope after the list arrives by the watch; one out of scope never does.
    await custom.createClusterCustomObject({ ...NA, body: labelled('in-a-later', '10000:1') });
    await custom.createClusterCustomObject({ ...NA, body: labelled('in-c', '10000:3') });
    await until(() => scoped.nodeAttestation('in-a-later'));
    expect(scoped.nodeAttestation('in-c')).toBeUndefined();
    // Leading: the whole fleet, Nodes included, listed by the time scopeTo resolves.
    await scoped.scopeTo({ kind: 'fleet' });
    expect(scoped.synced()).toBe(true);
    expect(names()).toEqual(expect.arrayContaining(['in-a', 'in-a-2', 'in-a-3', 'in-a-later', 'in-b', 'in-c']));
    expect(scoped.node('scoped-node')?.metadata.name).toBe('scoped-node');
    // Following again, owning shard 3 only.
    await scoped.scopeTo({ kind: 'shards', shards: new Set(['10000:3']) });
    expect(names()).toEqual(['in-c']);
    expect(scoped.node('scoped-node')).toBeUndefined();
    // Owning nothing: nothing cached, and still synced (ready).
    await scoped.scopeTo({ kind: 'shards', shards: new Set() });
    expect(names()).toEqual([]);
    expect(scoped.synced()).toBe(true);
  } finally {
    await scoped.stop();
    await core.deleteNode({ name: 'scoped-node' });
  }
});
