import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientIdentity } from '../harness/harness.js';
import { NODEWARD_NAMESPACE, RUNTIME_POLICY_CONFIGMAP, attestationPolicy, configMap } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { eventsFor, getJson, hasTaint, nodeAttestation, nodeObject, phaseOf } from './kube-read.js';
import { UNTRUSTED_TAINT, eventReasons, metricSum, waitEnforced, waitPhase, waitUntrusted } from './scenario-helpers.js';

/**
 * Enforcement a node cannot undo (issue 18, items 3-6 and freshness), each attack performed as an
 * attacker would: through the API server with the node's own kubelet credential (Node authorizer,
 * NodeRestriction), through the node's files, or by an administrator's policy change.
 */
const GROUP = 'node-restriction.kubernetes.io/group';
const HEARTBEAT_MS = 1000;
/** freshnessWindowMs(1 s interval, 1 s heartbeat) = 11 s, plus a resync and at most one bounded (10 s) wait on Redis. */
const STALE_WITHIN_MS = 45_000;

interface PolicyView { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }
type PolicyObject = ReturnType<typeof attestationPolicy>;

const conditionOf = (conds: { type: string; status: string; reason: string }[] | undefined, type: string): { status: string; reason: string } | undefined =>
  conds?.find((c) => c.type === type);

/** Polls for `ms` and fails if the node is ever Trusted meanwhile. */
async function neverTrustedFor(stack: Stack, node: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    expect(await phaseOf(stack, node)).not.toBe('Trusted');
    await sleep(250);
  }
}

describe('enforcement a node cannot undo (real apiserver with Node,RBAC + NodeRestriction, Redis, swtpm agents, operator)', () => {
  let stack: Stack;
  const policies = new Map<string, PolicyObject>();
  const policy = (name: string, selector: Record<string, string>, edit: (p: PolicyObject) => void = () => undefined): PolicyObject => {
    const p = attestationPolicy({ name, selector, verityRootHash: stack.verityRootHash });
    edit(p);
    policies.set(name, p);
    return p;
  };

  beforeAll(async () => {
    stack = await startStack({ operatorEnv: { NODEWARD_HEARTBEAT_MS: String(HEARTBEAT_MS), NODEWARD_RESYNC_MS: '2000' } });
    // Item 3 selects on a label the kubelet can write (what the attack needs); the others on protected labels.
    await stack.addNode('u-1', { pool: 'edge' });
    await stack.addNode('u-2', { pool: 'edge' });
    for (const [n, g] of [['c-1', 'c'], ['s-boot', 's-boot'], ['s-ima', 's-ima'], ['v-1', 'v'], ['f-1', 'f'], ['k-1', 'k']] as const) await stack.addNode(n, { [GROUP]: g });
    await stack.startOperator();
    await stack.apply([
      configMap('ima-runtime-policy-strict', { 'runtime-policy.json': await runtimePolicyJson(stack) }),
      configMap('ima-runtime-policy-fresh', { 'runtime-policy.json': await runtimePolicyJson(stack) }),
      configMap('ima-runtime-policy-corrupt', { 'runtime-policy.json': await runtimePolicyJson(stack) }),
      // No revokeCredentials: with it the kubelet-quarantine policy refuses these writes outright (kubelet-quarantine.int.test.ts);
      // here the kubelet must be able to try each escape.
      policy('edge', { pool: 'edge' }, (p) => { p.spec.onFailure!.revokeCredentials = false; }),
      policy('lenient', { pool: 'lenient' }, (p) => { p.spec.mode = 'Audit'; delete p.spec.onFailure; p.spec.onUnreachable = { afterMisses: 3 }; }),
      policy('conflict-a', { [GROUP]: 'c' }),
      policy('strict-boot', { [GROUP]: 's-boot' }),
      policy('strict-ima', { [GROUP]: 's-ima' }, (p) => { p.spec.ima!.runtimePolicy.configMapRef.name = 'ima-runtime-policy-strict'; }),
      policy('verity', { [GROUP]: 'v' }),
      policy('fresh', { [GROUP]: 'f' }, (p) => { p.spec.ima!.runtimePolicy.configMapRef.name = 'ima-runtime-policy-fresh'; }),
      policy('corrupt', { [GROUP]: 'k' }, (p) => { p.spec.ima!.runtimePolicy.configMapRef.name = 'ima-runtime-policy-corrupt'; }),
    ]);
    for (const n of stack.nodes.keys()) await waitPhase(stack, n, 'Trusted', 180_000);
  }, 400_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('3: a compromised node that unlabels itself with its kubelet credential keeps its enforcement; relabelled at another node\'s IP it is not Trusted', async () => {
    const kubelet: ClientIdentity = await stack.harness.kubeletIdentity('u-2');
    await stack.nodes.get('u-2')!.sim.appendImaFile('/tmp/implant', 'a remote-access implant');
    await waitUntrusted(stack, 'u-2');
    await waitEnforced(stack, 'u-2');

    const unlabel = await kubelet.kubectl(['label', 'node', 'u-2', 'pool-']);
    expect(unlabel.stderr).toBe('');
    await waitFor('u-2 LeftPolicy condition', async () =>
      conditionOf((await nodeAttestation(stack, 'u-2')).status?.conditions, 'LeftPolicy')?.status === 'True');
    const na = await nodeAttestation(stack, 'u-2');
    expect(na.status?.phase).toBe('Untrusted');
    expect(conditionOf(na.status?.conditions, 'LeftPolicy')?.reason).toBe('LeftPolicyWhileEnforced');
    await waitFor('LeftPolicyWhileEnforced Event', async () => (await eventReasons(stack, 'u-2')).includes('LeftPolicyWhileEnforced'));
    await sleep(3000); // a few resyncs and would-be rounds
    const node = await nodeObject(stack, 'u-2');
    expect(hasTaint(node, UNTRUSTED_TAINT)).toBe(true);
    expect(node.spec?.unschedulable).toBe(true);

    // Into a lenient (Audit) policy's selector instead: as good as leaving, still held under its own policy.
    expect((await kubelet.kubectl(['label', 'node', 'u-2', 'pool=lenient'])).code).toBe(0);
    await sleep(3000);
    expect((await getJson<{ spec: { policyName: string } }>(stack, ['get', 'nodeattestation', 'u-2'])).spec.policyName).toBe('edge');
    await waitEnforced(stack, 'u-2');
    expect((await kubelet.kubectl(['label', 'node', 'u-2', 'pool-'])).code).toBe(0);

    // The kubelet may uncordon its own Node: the operator cordons it again.
    const uncordon = await kubelet.kubectl(['uncordon', 'u-2']);
    expect(uncordon.code).toBe(0);
    await waitEnforced(stack, 'u-2');

    // Relabelled, and pointing its InternalIP at a healthy node's agent: still not Trusted.
    const u1 = stack.nodes.get('u-1')!;
    expect((await kubelet.kubectl(['label', 'node', 'u-2', 'pool=edge'])).code).toBe(0);
    // kubectl patch --subresource=status first GETs nodes/status, which the Node authorizer refuses: PATCH directly, as a kubelet does.
    await kubelet.kubeConfig.makeApiClient(k8s.CoreV1Api).patchNodeStatus({ name: 'u-2', body: [
      { op: 'replace', path: '/status/addresses', value: [{ type: 'InternalIP', address: u1.ip }, { type: 'Hostname', address: 'u-2' }] },
    ] });
    await waitFor('u-2 InternalIP repointed', async () =>
      (await getJson<{ status?: { addresses?: { type: string; address: string }[] } }>(stack, ['get', 'node', 'u-2'])).status?.addresses?.some((a) => a.address === u1.ip) === true);
    await neverTrustedFor(stack, 'u-2', 8000);
    await waitEnforced(stack, 'u-2');

    // The policy says its selector is kubelet-writable.
    const p = await getJson<PolicyView>(stack, ['get', 'nodeattestationpolicy', 'edge']);
    expect(conditionOf(p.status?.conditions, 'SelectorProtected')).toMatchObject({ status: 'False', reason: 'KubeletWritableLabels' });
    const protectedPolicy = await getJson<PolicyView>(stack, ['get', 'nodeattestationpolicy', 'conflict-a']);
    expect(conditionOf(protectedPolicy.status?.conditions, 'SelectorProtected')).toMatchObject({ status: 'True' });
    // NodeRestriction keeps the kubelet off the protected labels.
    expect((await kubelet.kubectl(['label', 'node', 'u-2', `${GROUP}=c`])).stderr).toMatch(/is not allowed to modify labels/);
  }, 180_000);

  it('4: a node two policies select is not Trusted, and a compromise meanwhile is caught', async () => {
    await stack.apply([policy('conflict-b', { 'node-restriction.kubernetes.io/extra': 'yes' })]);
    await stack.kubectl(['label', 'node', 'c-1', 'node-restriction.kubernetes.io/extra=yes']);
    await waitPhase(stack, 'c-1', 'Conflict', 30_000);
    const na = await nodeAttestation(stack, 'c-1');
    expect(conditionOf(na.status?.conditions, 'PolicyConflict')?.status).toBe('True');
    expect(conditionOf(na.status?.conditions, 'Trusted')).toMatchObject({ status: 'False', reason: 'MultiplePolicies' });
    expect(await eventReasons(stack, 'c-1')).toContain('PolicyConflict');
    await neverTrustedFor(stack, 'c-1', 4000);

    await stack.nodes.get('c-1')!.sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    const failed = await waitUntrusted(stack, 'c-1', 30_000);
    expect(failed.status?.lastFailure?.reason).toBe('ima.path_not_in_policy');
    await waitEnforced(stack, 'c-1');
  }, 120_000);

  it('5a: a new required kernel command line term makes an attested node Untrusted without a reboot', async () => {
    const p = policies.get('strict-boot')!;
    p.spec.measuredBoot!.requiredKernelCmdline = [...p.spec.measuredBoot!.requiredKernelCmdline!, 'lockdown='];
    const changedAt = Date.now();
    await stack.apply([p]);
    const na = await waitUntrusted(stack, 's-boot', 30_000);
    expect(na.status?.lastFailure?.reason).toMatch(/^bootlog\./);
    expect(Date.now() - changedAt).toBeLessThan(15_000);
  }, 60_000);

  it('5b: removing a digest from the runtime policy ConfigMap re-checks IMA entries accepted under the old one', async () => {
    const doc = JSON.parse(await runtimePolicyJson(stack)) as { digests: Record<string, string[]> };
    delete doc.digests['/usr/sbin/sshd'];
    await stack.apply([configMap('ima-runtime-policy-strict', { 'runtime-policy.json': JSON.stringify(doc) })]);
    const na = await waitUntrusted(stack, 's-ima', 30_000);
    expect(na.status?.lastFailure?.reason).toBe('ima.path_not_in_policy');
    // The sshd entry was accepted long ago under the old policy, and is checked again under the new one.
    const trusted = na.status?.conditions?.find((c) => c.type === 'Trusted') as { message?: string } | undefined;
    expect(trusted?.message ?? '').toContain('path /usr/sbin/sshd is not in the runtime policy');
  }, 60_000);

  it('6: dm-verity corruption stays failing after the agent stops reporting it, until the node reboots', async () => {
    const v = stack.nodes.get('v-1')!;
    await v.sim.setVerityCorrupted(true);
    const na = await waitUntrusted(stack, 'v-1', 30_000);
    expect(na.status?.lastFailure?.reason).toBe('verity.corrupted');
    await v.sim.setVerityCorrupted(false);
    await neverTrustedFor(stack, 'v-1', 8000);
    await v.sim.reboot();
    await v.runKnownGood();
    await waitPhase(stack, 'v-1', 'Trusted', 60_000);
  }, 120_000);

  it('freshness: a missing runtime policy ConfigMap takes the node out of Trusted and the policy says why', async () => {
    await stack.kubectl(['delete', 'configmap', '-n', NODEWARD_NAMESPACE, 'ima-runtime-policy-fresh']);
    await waitPhase(stack, 'f-1', 'Stale', STALE_WITHIN_MS);
    expect(conditionOf((await nodeAttestation(stack, 'f-1')).status?.conditions, 'Trusted')).toMatchObject({ status: 'Unknown', reason: 'RoundsStale' });
    const p = await getJson<PolicyView>(stack, ['get', 'nodeattestationpolicy', 'fresh']);
    const ready = p.status?.conditions?.find((c) => c.type === 'RuntimePolicyReady');
    expect(ready).toMatchObject({ status: 'False', reason: 'ConfigMapNotFound' });
    expect(ready?.message).toContain('spec.ima.runtimePolicy');
    const events = await eventsFor(stack, 'fresh');
    expect(events.some((e) => e.reason === 'PolicyInvalid' && e.involvedObject.kind === 'NodeAttestationPolicy')).toBe(true);
    expect(await eventReasons(stack, 'f-1')).toContain('AttestationStale');
  }, 60_000);

  it('signals: a corrupted runtime policy fails closed (condition, Event, metric, Stale, Node condition), and a kubelet cannot forge the condition', async () => {
    await waitFor('k-1 Node condition True', async () => (await nodeTrusted(stack, 'k-1')).status === 'True', 30_000);
    await waitFor('nap columns count k-1 Trusted', async () => (await napColumns(stack, 'corrupt'))['TRUSTED'] === '1', 30_000);
    expect(await napColumns(stack, 'corrupt')).toMatchObject({ NODES: '1', TRUSTED: '1', UNTRUSTED: '0', UNREACHABLE: '0', HELD: '0', STALE: '0' });

    const good = await runtimePolicyJson(stack);
    await stack.apply([configMap('ima-runtime-policy-corrupt', { 'runtime-policy.json': '{"meta": {"version": 1}, "digests": ' })]);
    const corruptedAt = Date.now();
    await waitFor('RuntimePolicyReady False', async () =>
      conditionOf((await getJson<PolicyView>(stack, ['get', 'nodeattestationpolicy', 'corrupt'])).status?.conditions, 'RuntimePolicyReady')?.status === 'False', 30_000);
    const ready = (await getJson<PolicyView>(stack, ['get', 'nodeattestationpolicy', 'corrupt'])).status?.conditions?.find((c) => c.type === 'RuntimePolicyReady');
    expect(ready).toMatchObject({ status: 'False', reason: 'RuntimePolicyInvalid' });
    expect(ready?.message).toMatch(/^spec\.ima\.runtimePolicy: nodeward-system\/ima-runtime-policy-corrupt\/runtime-policy\.json is not a valid Keylime runtime policy/);
    await waitFor('PolicyInvalid Event on the policy', async () => (await eventsFor(stack, 'corrupt')).some((e) => e.reason === 'PolicyInvalid' && e.involvedObject.kind === 'NodeAttestationPolicy'), 30_000);
    await waitFor('nodeward_policy_references_invalid', async () =>
      (await metricSum(stack.operators[0]!.httpPort, 'nodeward_policy_references_invalid', 'policy="corrupt"')) === 1, 30_000);

    // Nothing passes silently: no round passes under the corrupt document, and the node leaves Trusted within the window.
    await waitPhase(stack, 'k-1', 'Stale', STALE_WITHIN_MS);
    const staleAfterMs = Date.now() - corruptedAt;
    expect(staleAfterMs).toBeLessThan(STALE_WITHIN_MS);
    const stale = await getJson<{ status?: { lastSuccessTime?: string } }>(stack, ['get', 'nodeattestation', 'k-1']);
    // A round already in flight (or run before the informer has the new ConfigMap) verified under the good document.
    expect(Date.parse(stale.status?.lastSuccessTime ?? '')).toBeLessThan(corruptedAt + 3000);
    await neverTrustedFor(stack, 'k-1', 4000);
    const why = (await nodeAttestation(stack, 'k-1')).status?.conditions?.find((c) => c.type === 'Trusted') as { reason?: string; message?: string } | undefined;
    expect(why).toMatchObject({ reason: 'RoundsStale', message: expect.stringContaining('policy corrupt RuntimePolicyInvalid: spec.ima.runtimePolicy') });
    await waitFor('k-1 Node condition Unknown', async () => (await nodeTrusted(stack, 'k-1')).status === 'Unknown', 15_000);
    expect(await nodeTrusted(stack, 'k-1')).toMatchObject({ status: 'Unknown', reason: 'RoundsStale' });
    await waitFor('nap columns count k-1 Stale', async () => (await napColumns(stack, 'corrupt'))['STALE'] === '1', 15_000);
    expect(await napColumns(stack, 'corrupt')).toMatchObject({ TRUSTED: '0', STALE: '1' });

    // The node's kubelet may write its own Node status: a forged True is put back by the operator.
    const kubelet: ClientIdentity = await stack.harness.kubeletIdentity('k-1');
    const now = new Date();
    await kubelet.kubeConfig.makeApiClient(k8s.CoreV1Api).patchNodeStatus({ name: 'k-1', body: { status: { conditions: [
      { type: TRUSTED_CONDITION, status: 'True', reason: 'AttestationPassed', message: 'forged by the node', lastHeartbeatTime: now, lastTransitionTime: now },
    ] } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
    const forgedAt = Date.now();
    await waitFor('forged condition put back', async () => (await nodeTrusted(stack, 'k-1')).status === 'Unknown', 15_000, 50);
    process.stderr.write(`signals figures: Stale ${staleAfterMs} ms after the corruption (window ${STALE_WITHIN_MS} ms); forged Node condition put back within ${Date.now() - forgedAt} ms\n`);

    // Fixed: rounds run again, the node is Trusted and says so.
    await stack.apply([configMap('ima-runtime-policy-corrupt', { 'runtime-policy.json': good })]);
    await waitPhase(stack, 'k-1', 'Trusted', 60_000);
    await waitFor('k-1 Node condition True again', async () => (await nodeTrusted(stack, 'k-1')).status === 'True', 15_000);
    await waitFor('metric cleared', async () =>
      (await metricSum(stack.operators[0]!.httpPort, 'nodeward_policy_references_invalid', 'policy="corrupt"')) === 0, 30_000);
  }, 180_000);

  it('freshness: with Redis down no round runs, and no node stays Trusted', async () => {
    const trusted = [];
    for (const n of stack.nodes.keys()) if ((await phaseOf(stack, n)) === 'Trusted') trusted.push(n);
    expect(trusted.length).toBeGreaterThan(0);
    await stack.harness.stopRedis();
    try {
      for (const n of trusted) await waitPhase(stack, n, 'Stale', STALE_WITHIN_MS);
    } finally {
      await stack.harness.startRedis();
    }
    // Rounds resume (schedules rebuilt from the CRs) and a healthy node is Trusted again.
    await waitPhase(stack, trusted[0]!, 'Trusted', 60_000);
  }, 120_000);
});

const TRUSTED_CONDITION = 'attestation.nodeward.io/Trusted';

/** The Node condition, as a consumer reads it: `kubectl get node -o jsonpath`. */
async function nodeTrusted(stack: Stack, node: string): Promise<{ status: string; reason: string }> {
  const [status = '', reason = ''] = (await stack.kubectl(['get', 'node', node, '-o',
    `jsonpath={.status.conditions[?(@.type=="${TRUSTED_CONDITION}")].status} {.status.conditions[?(@.type=="${TRUSTED_CONDITION}")].reason}`])).trim().split(' ');
  return { status, reason };
}

/** `kubectl get nap NAME -o wide` as column → value. */
async function napColumns(stack: Stack, name: string): Promise<Record<string, string>> {
  const [header = '', row = ''] = (await stack.kubectl(['get', 'nap', name, '-o', 'wide'])).trim().split('\n');
  const values = row.trim().split(/\s+/);
  return Object.fromEntries(header.trim().split(/\s+/).map((h, i) => [h, values[i] ?? '']));
}

/** The known-good runtime policy the stack installed. */
async function runtimePolicyJson(stack: Stack): Promise<string> {
  const cm = await getJson<{ data: Record<string, string> }>(stack, ['get', 'configmap', '-n', NODEWARD_NAMESPACE, RUNTIME_POLICY_CONFIGMAP]);
  return cm.data['runtime-policy.json']!;
}
