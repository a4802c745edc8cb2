import { CredentialAuthority } from '../ca/credential-authority.js';
import { actionsFor } from '../decide/actions.js';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { silentLogger } from '../log.js';
import type { NodeAttestationPolicySpec, PodView } from '../status/resources.js';
import { nextDrainProgress, podsToEvict } from './drain.js';
import { Enforcer } from './enforcer.js';
import { KubeletQuarantine } from './kubelet-quarantine.js';

const pod = (name: string, p: Partial<PodView> = {}): PodView => ({ namespace: 'app', name, ownerKinds: ['ReplicaSet'], mirror: false, phase: 'Running', terminating: false, ...p });

describe('podsToEvict (as kubectl drain chooses)', () => {
  it.each([
    ['a ReplicaSet pod is evicted', pod('web'), true, 0],
    ['a bare pod is evicted', pod('bare', { ownerKinds: [] }), true, 0],
    ['a DaemonSet pod stays (its controller would put it back)', pod('agent', { ownerKinds: ['DaemonSet'] }), false, 1],
    ['a mirror (static) pod stays (eviction cannot remove it)', pod('etcd', { mirror: true, ownerKinds: ['Node'] }), false, 1],
    ['a terminating pod is already on its way', pod('old', { terminating: true }), false, 0],
    ['a Succeeded pod needs nothing', pod('job', { phase: 'Succeeded' }), false, 0],
    ['a Failed pod needs nothing', pod('crashed', { phase: 'Failed' }), false, 0],
  ])('%s', (_n, p, evicted, skipped) => {
    const r = podsToEvict([p]);
    expect([r.evict.length === 1, r.skipped]).toEqual([evicted, skipped]);
  });
});

describe('nextDrainProgress', () => {
  const start = new Date('2026-01-01T00:00:00Z');
  it('is Drained when nothing is pending, counting evictions across passes', () => {
    const first = nextDrainProgress(undefined, { evictedNow: 2, pending: [pod('db')], skipped: 1 }, start, false);
    expect(first).toEqual({ phase: 'Draining', startedAt: start.toISOString(), evicted: 2, pending: 1, skipped: 1, blockedByDisruptionBudget: ['app/db'] });
    expect(nextDrainProgress(first, { evictedNow: 1, pending: [], skipped: 1 }, start, false)).toEqual({ phase: 'Drained', startedAt: start.toISOString(), evicted: 3, pending: 0, skipped: 1 });
  });
  it('is TimedOut when pods are still refused after the timeout', () => {
    expect(nextDrainProgress(undefined, { evictedNow: 0, pending: [pod('db')], skipped: 0 }, start, true).phase).toBe('TimedOut');
  });
  it('names at most 16 blocked pods', () => {
    const many = Array.from({ length: 40 }, (_, i) => pod(`p${i}`));
    const p = nextDrainProgress(undefined, { evictedNow: 0, pending: many, skipped: 0 }, start, false);
    expect([p.pending, p.blockedByDisruptionBudget?.length]).toEqual([40, 16]);
  });
});

describe('Enforcer drain', () => {
  const spec: Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure'> = { mode: 'Enforce', onFailure: { cordon: true, drain: { timeout: '2m' } } };
  const target = { nodeName: 'n1', attestationName: 'n1', akName: undefined, agentUrl: undefined, failure: 'ima.digest_not_allowed' };

  async function setup(): Promise<{ cluster: MemoryCluster; enforcer: Enforcer; clock: { t: number } }> {
    const cluster = new MemoryCluster();
    cluster.nodes.set('n1', { metadata: { name: 'n1', annotations: {} }, spec: {} });
    cluster.attestations.set('n1', { metadata: { name: 'n1' }, spec: { nodeName: 'n1', policyName: 'p' }, status: { phase: 'Untrusted' } });
    cluster.pods.set('n1', [pod('web-1'), pod('web-2'), pod('db-0', { ownerKinds: ['StatefulSet'] }), pod('agent', { ownerKinds: ['DaemonSet'] }), pod('kube-proxy', { mirror: true })]);
    cluster.disruptionBudgetBlocks.add('app/db-0');
    const ca = new CredentialAuthority(cluster, { namespace: 'ns', ttlMs: 3_600_000 });
    await ca.start();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const agent = { putCredential: () => Promise.resolve(), deleteCredential: () => Promise.resolve() };
    return { cluster, enforcer: new Enforcer(cluster, ca, agent, silentLogger, { renewBeforeMs: 600_000, quarantine: new KubeletQuarantine(cluster, { namespace: 'ns', cached: () => undefined }), now: () => new Date(clock.t) }), clock };
  }
  const drainOf = (c: MemoryCluster): unknown => c.attestations.get('n1')!.status?.drain;

  it('cordons, evicts all but DaemonSet and mirror pods, retries what a PDB refuses, and finishes when it lets go', async () => {
    const { cluster, enforcer, clock } = await setup();
    const actions = actionsFor(spec, 'Untrusted', { cordoned: true, drained: true });
    const changed = await enforcer.converge(target, actions);
    expect(changed.map((a) => a.kind)).toEqual(['cordon', 'drain']);
    expect(cluster.nodes.get('n1')!.spec?.unschedulable).toBe(true);
    expect(cluster.writes.filter((w) => w.startsWith('evict'))).toEqual(['evict pod/app/web-1', 'evict pod/app/web-2']);
    expect(drainOf(cluster)).toMatchObject({ phase: 'Draining', evicted: 2, pending: 1, skipped: 2, blockedByDisruptionBudget: ['app/db-0'] });
    expect(enforcer.isSettled('n1')).toBe(false); // not remembered as converged: the next pass retries
    clock.t += 30_000;
    expect(await enforcer.converge(target, actions)).toEqual([]); // still refused: no write
    cluster.disruptionBudgetBlocks.clear();
    clock.t += 30_000;
    await enforcer.converge(target, actions);
    expect(drainOf(cluster)).toMatchObject({ phase: 'Drained', evicted: 3, pending: 0 });
    expect(enforcer.isSettled('n1')).toBe(true);
    expect(cluster.events.map((e) => e.reason)).toEqual(['NodeCordoned', 'NodeDraining', 'NodeDrained']);
    expect(await enforcer.converge(target, actions)).toEqual([]); // a finished drain is not repeated
  });

  it('reports TimedOut once the timeout passes with pods still refused, then stops evicting', async () => {
    const { cluster, enforcer, clock } = await setup();
    const actions = actionsFor(spec, 'Untrusted', { drained: true });
    await enforcer.converge(target, actions);
    clock.t += 120_000;
    await enforcer.converge(target, actions);
    expect(drainOf(cluster)).toMatchObject({ phase: 'TimedOut', pending: 1, blockedByDisruptionBudget: ['app/db-0'] });
    expect(cluster.events.map((e) => e.reason)).toContain('DrainTimedOut');
    const evictions = cluster.writes.filter((w) => w.startsWith('evict')).length;
    clock.t += 60_000;
    await enforcer.converge(target, actions);
    expect(cluster.writes.filter((w) => w.startsWith('evict')).length).toBe(evictions);
  });

  it('a status write by the decision keeps the drain progress (its own field manager)', async () => {
    const { cluster, enforcer } = await setup();
    await enforcer.converge(target, actionsFor(spec, 'Untrusted', { drained: true }));
    await cluster.applyNodeAttestationStatus('n1', { phase: 'Untrusted', enforcement: { drained: true } });
    expect(drainOf(cluster)).toMatchObject({ phase: 'Draining' });
  });

  it('lifting enforcement removes the drain progress; evicted pods are not brought back', async () => {
    const { cluster, enforcer } = await setup();
    await enforcer.converge(target, actionsFor(spec, 'Untrusted', { drained: true }));
    const changed = await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    expect(changed.map((a) => a.kind)).toContain('drain');
    expect(drainOf(cluster)).toBeUndefined();
    expect(cluster.pods.get('n1')!.filter((p) => p.terminating).map((p) => p.name)).toEqual(['web-1', 'web-2']);
  });
});
