import { createHash } from 'node:crypto';
import { NODEWARD_NAMESPACE, RUNTIME_POLICY_CONFIGMAP, attestationPolicy, configMap } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { getJson, hasTaint, nodeObject } from './kube-read.js';
import { UNTRUSTED_TAINT, credentialSecret, eventReasons, waitPhase, waitUntrusted } from './scenario-helpers.js';

/**
 * Issue 20's enforcement table on the real control plane (API server with Node,RBAC + NodeRestriction,
 * Redis, swtpm agents, the operator under its shipped ClusterRole): a drain that respects a
 * PodDisruptionBudget (Pod objects bound to a simulated node; no kubelet, so evictions are checked as
 * API effects: deletionTimestamp set), escalation steps over time, and a policy push failing 3 of 4
 * nodes under maxUnavailable 1.
 */
const GROUP = 'node-restriction.kubernetes.io/group';
const APP_NS = 'drain-test';
const BUDGET_POLICY_CM = 'ima-runtime-policy-budget';

interface EnforcementView { tainted?: boolean; cordoned?: boolean; drained?: boolean; credentialsRevoked?: boolean; held?: boolean; step?: number; since?: string; nextStepAt?: string; taintEffect?: string }
interface AttestationView { status?: { phase?: string; enforcement?: EnforcementView; drain?: { phase: string; evicted?: number; pending?: number; skipped?: number; blockedByDisruptionBudget?: string[] } } }
interface PodObject { metadata: { name: string; deletionTimestamp?: string } }
interface PolicyView { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }

const attestation = (stack: Stack, node: string): Promise<AttestationView> => getJson(stack, ['get', 'nodeattestation', node]);
const pod = (stack: Stack, name: string): Promise<PodObject> => getJson(stack, ['get', 'pod', '-n', APP_NS, name]);

function podOn(node: string, name: string, labels: Record<string, string>, owner?: { kind: string; name: string }): object {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, namespace: APP_NS, labels,
      ...(owner === undefined ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: '00000000-0000-4000-8000-000000000001', controller: true }] }),
    },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'registry.invalid/app:1' }], tolerations: [{ operator: 'Exists' }] },
  };
}

describe('enforcement actions (real apiserver, Redis, swtpm agents, operator)', () => {
  let stack: Stack;
  let basePolicy: Record<string, unknown>;

  beforeAll(async () => {
    stack = await startStack({ operatorEnv: { NODEWARD_RESYNC_MS: '2000' } });
    await stack.addNode('d-1', { [GROUP]: 'd' });
    await stack.addNode('e-1', { [GROUP]: 'e' });
    for (const n of ['b-1', 'b-2', 'b-3', 'b-4']) await stack.addNode(n, { [GROUP]: 'b' });
    await stack.startOperator();
    const cm = await getJson<{ data: Record<string, string> }>(stack, ['get', 'configmap', '-n', NODEWARD_NAMESPACE, RUNTIME_POLICY_CONFIGMAP]);
    basePolicy = JSON.parse(cm.data['runtime-policy.json']!) as Record<string, unknown>;
    // The budget policy's runtime policy also allows /usr/bin/tool, which three of its nodes run.
    const withTool = { ...basePolicy, digests: { ...(basePolicy['digests'] as Record<string, string[]>), '/usr/bin/tool': [createHash('sha256').update('tool v1').digest('hex')] } };
    const policy = (name: string, group: string, edit: (p: ReturnType<typeof attestationPolicy>) => void): object => {
      const p = attestationPolicy({ name, selector: { [GROUP]: group }, verityRootHash: stack.verityRootHash });
      edit(p);
      return p;
    };
    await stack.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: APP_NS } },
      configMap(BUDGET_POLICY_CM, { 'runtime-policy.json': JSON.stringify(withTool) }),
      policy('drain', 'd', (p) => { p.spec.onFailure = { taint: { effect: 'NoSchedule' }, cordon: true, drain: { timeout: '5m' } }; }),
      policy('escalate', 'e', (p) => {
        p.spec.onFailure = { taint: { effect: 'NoSchedule' }, steps: [{ after: '4s', cordon: true }, { after: '8s', taint: { effect: 'NoExecute' }, revokeCredentials: true }] };
      }),
      policy('budget', 'b', (p) => {
        p.spec.ima!.runtimePolicy.configMapRef.name = BUDGET_POLICY_CM;
        p.spec.maxUnavailable = 1;
        p.spec.onFailure = { taint: { effect: 'NoSchedule' }, cordon: true };
      }),
    ]);
    for (const n of stack.nodes.keys()) await waitPhase(stack, n, 'Trusted', 180_000);
  }, 400_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('drain evicts through the Eviction API, leaves DaemonSet pods, retries what a PodDisruptionBudget refuses, and finishes once it lets go', async () => {
    await stack.apply([
      podOn('d-1', 'web-1', { app: 'web' }, { kind: 'ReplicaSet', name: 'web' }),
      podOn('d-1', 'web-2', { app: 'web' }, { kind: 'ReplicaSet', name: 'web' }),
      podOn('d-1', 'db-0', { app: 'db' }, { kind: 'StatefulSet', name: 'db' }),
      podOn('d-1', 'node-agent', { app: 'agent' }, { kind: 'DaemonSet', name: 'agent' }),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'db', namespace: APP_NS }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'db' } } } },
    ]);
    // A Running, Ready db-0 (no kubelet here to report it): a Pending pod would be evicted whatever its budget says.
    await stack.kubectl(['patch', 'pod', '-n', APP_NS, 'db-0', '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } })]);

    await stack.nodes.get('d-1')!.sim.appendImaFile('/tmp/implant', 'a remote-access implant');
    await waitUntrusted(stack, 'd-1');
    const draining = await waitFor('d-1 draining with db-0 refused', async () => {
      const d = (await attestation(stack, 'd-1')).status?.drain;
      return d?.phase === 'Draining' ? d : undefined;
    }, 60_000);
    expect(draining).toMatchObject({ evicted: 2, pending: 1, skipped: 1, blockedByDisruptionBudget: [`${APP_NS}/db-0`] });
    expect((await pod(stack, 'web-1')).metadata.deletionTimestamp).toBeDefined();
    expect((await pod(stack, 'web-2')).metadata.deletionTimestamp).toBeDefined();
    expect((await pod(stack, 'db-0')).metadata.deletionTimestamp).toBeUndefined();
    expect((await pod(stack, 'node-agent')).metadata.deletionTimestamp).toBeUndefined();
    const node = await nodeObject(stack, 'd-1');
    expect([hasTaint(node, UNTRUSTED_TAINT), node.spec?.unschedulable]).toEqual([true, true]);
    expect(await eventReasons(stack, 'd-1')).toEqual(expect.arrayContaining(['NodeTainted', 'NodeCordoned', 'NodeDraining']));

    // The disruption controller's verdict (no kube-controller-manager runs here): one disruption allowed.
    const pdb = await getJson<{ metadata: { generation: number } }>(stack, ['get', 'pdb', '-n', APP_NS, 'db']);
    await stack.kubectl(['patch', 'pdb', '-n', APP_NS, 'db', '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { observedGeneration: pdb.metadata.generation, disruptionsAllowed: 1, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } })]);
    const drained = await waitFor('d-1 drained', async () => {
      const d = (await attestation(stack, 'd-1')).status?.drain;
      return d?.phase === 'Drained' ? d : undefined;
    }, 60_000);
    expect(drained).toMatchObject({ evicted: 3, pending: 0 });
    expect((await pod(stack, 'db-0')).metadata.deletionTimestamp).toBeDefined();
    expect((await pod(stack, 'node-agent')).metadata.deletionTimestamp).toBeUndefined();
    expect(await eventReasons(stack, 'd-1')).toContain('NodeDrained');
  }, 180_000);

  it('escalates step by step: taint at once, cordon after 4s, NoExecute and revocation after 8s, each recorded before it acts', async () => {
    await stack.nodes.get('e-1')!.sim.appendImaFile('/tmp/implant', 'a remote-access implant');
    const first = await waitFor('e-1 step 0', async () => {
      const e = (await attestation(stack, 'e-1')).status?.enforcement;
      return e?.step === 0 && e.tainted === true ? e : undefined;
    }, 60_000);
    expect(first).toMatchObject({ cordoned: false, credentialsRevoked: false, taintEffect: 'NoSchedule' });
    const since = Date.parse(first.since!);
    expect(Date.parse(first.nextStepAt!) - since).toBe(4000);
    expect((await nodeObject(stack, 'e-1')).spec?.unschedulable).not.toBe(true);

    await waitFor('e-1 cordoned (step 1)', async () => (await nodeObject(stack, 'e-1')).spec?.unschedulable === true, 30_000);
    expect(Date.now()).toBeGreaterThanOrEqual(since + 4000);
    expect((await attestation(stack, 'e-1')).status?.enforcement).toMatchObject({ step: 1, cordoned: true });

    await waitFor('e-1 NoExecute and revoked (step 2)', async () => {
      const n = await nodeObject(stack, 'e-1');
      return (n.spec?.taints ?? []).some((t) => t.key === UNTRUSTED_TAINT && t.effect === 'NoExecute') && (await credentialSecret(stack, 'e-1')) === undefined;
    }, 30_000);
    expect(Date.now()).toBeGreaterThanOrEqual(since + 8000);
    expect((await attestation(stack, 'e-1')).status?.enforcement).toMatchObject({ step: 2, credentialsRevoked: true, taintEffect: 'NoExecute' });
    expect((await eventReasons(stack, 'e-1')).filter((r) => r === 'EnforcementEscalated').length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('a policy push failing 3 of 4 nodes under maxUnavailable 1: one enforced, two held (Untrusted, not enforced), condition, Event', async () => {
    for (const n of ['b-1', 'b-2', 'b-3']) await stack.nodes.get(n)!.sim.appendImaFile('/usr/bin/tool', 'tool v1');
    await new Promise((r) => setTimeout(r, 3000));
    for (const n of ['b-1', 'b-2', 'b-3', 'b-4']) expect((await attestation(stack, n)).status?.phase).toBe('Trusted');

    // The push: a runtime policy that no longer allows /usr/bin/tool.
    await stack.apply([configMap(BUDGET_POLICY_CM, { 'runtime-policy.json': JSON.stringify(basePolicy) })]);
    for (const n of ['b-1', 'b-2', 'b-3']) await waitUntrusted(stack, n, 60_000);
    const settled = await waitFor('one enforced, two held', async () => {
      const views = await Promise.all(['b-1', 'b-2', 'b-3'].map(async (n) => [n, (await attestation(stack, n)).status?.enforcement] as const));
      const enforced = views.filter(([, e]) => e?.tainted === true).map(([n]) => n);
      const held = views.filter(([, e]) => e?.held === true).map(([n]) => n);
      return enforced.length === 1 && held.length === 2 ? { enforced, held } : undefined;
    }, 60_000);
    const enforcedNode = await nodeObject(stack, settled.enforced[0]!);
    expect([hasTaint(enforcedNode), enforcedNode.spec?.unschedulable]).toEqual([true, true]);
    for (const n of settled.held) {
      const node = await nodeObject(stack, n);
      expect([hasTaint(node), node.spec?.unschedulable === true]).toEqual([false, false]);
      expect((await attestation(stack, n)).status?.phase).toBe('Untrusted');
      expect(await eventReasons(stack, n)).toEqual(expect.arrayContaining(['AttestationFailed', 'EnforcementHeld']));
    }
    expect((await attestation(stack, 'b-4')).status?.phase).toBe('Trusted');
    const condition = await waitFor('policy BudgetExceeded', async () => {
      const c = (await getJson<PolicyView>(stack, ['get', 'nap', 'budget'])).status?.conditions?.find((x) => x.type === 'BudgetExceeded');
      return c?.status === 'True' ? c : undefined;
    }, 30_000);
    expect(condition).toMatchObject({ reason: 'NodesHeld' });
    for (const n of settled.held) expect(condition.message).toContain(n);
    expect(await eventReasons(stack, 'budget')).toContain('EnforcementHeld');
    // The HELD column of kubectl get nap.
    await waitFor('policy heldNodes 2', async () => (await getJson<{ status?: { heldNodes?: number } }>(stack, ['get', 'nap', 'budget'])).status?.heldNodes === 2, 30_000);
  }, 180_000);
});
