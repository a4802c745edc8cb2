import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientIdentity } from '../harness/harness.js';
import { attestationPolicy, NODEWARD_NAMESPACE } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { getJson } from './kube-read.js';
import { probeKubeletWrite, type ProbeResult } from './kubelet-probe.js';
import { eventReasons, waitPhase, waitUntrusted } from './scenario-helpers.js';

/**
 * Issue 19 item 4, scenarios 5 and 6 (the write half): the ValidatingAdmissionPolicy shipped in
 * config/quarantine, installed as users install it, refuses every write by system:node:<name> once the
 * operator has put <name> on its quarantine list, and allows them again on recovery. The kubelet is
 * a client certificate CN=system:node:<name>, O=system:nodes from the cluster's client CA.
 */
const SELECTOR = { 'node-restriction.kubernetes.io/quarantine-test': 'true' };

/** Writes as the kubelet every 50 ms until one gets `want`; resolves that result and when it came. */
async function probeUntil(kubelet: ClientIdentity, node: string, want: boolean, timeoutMs: number): Promise<{ result: ProbeResult; at: number }> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < until; i++) {
    const result = await probeKubeletWrite(kubelet.kubeConfig, node, String(i));
    if (result.allowed === want) return { result, at: Date.now() };
    await sleep(50);
  }
  throw new Error(`${node}: writes still ${want ? 'refused' : 'allowed'} after ${timeoutMs} ms`);
}

describe('kubelet identity quarantine (real apiserver with the shipped ValidatingAdmissionPolicy, swtpm agents, operator)', () => {
  let stack: Stack;
  let kubelet: ClientIdentity;
  let other: ClientIdentity;
  beforeAll(async () => {
    stack = await startStack();
    await stack.addNode('q-1', SELECTOR);
    await stack.addNode('q-2', SELECTOR);
    await stack.startOperator();
    await stack.apply([attestationPolicy({ name: 'quarantine', selector: SELECTOR, verityRootHash: stack.verityRootHash })]);
    for (const n of ['q-1', 'q-2']) await waitPhase(stack, n, 'Trusted', 120_000);
    kubelet = await stack.harness.kubeletIdentity('q-1');
    other = await stack.harness.kubeletIdentity('q-2');
  }, 240_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it('a Trusted node\'s kubelet writes; the admin and the other kubelets are never matched', async () => {
    expect(await probeKubeletWrite(kubelet.kubeConfig, 'q-1', 'trusted')).toEqual({ allowed: true });
    const vap = await getJson<{ spec: { failurePolicy: string } }>(stack, ['get', 'validatingadmissionpolicy', 'nodeward-kubelet-quarantine']);
    expect(vap.spec.failurePolicy).toBe('Fail');
  });

  it('5: a node that fails attestation is refused its next write within one round, naming Nodeward and the failure', async () => {
    const tampered = Date.now();
    await stack.nodes.get('q-1')!.sim.appendImaFile('/tmp/implant', 'a remote-access implant');
    const refused = await probeUntil(kubelet, 'q-1', false, 30_000);
    const na = await waitUntrusted(stack, 'q-1');
    expect(refused.result).toMatchObject({ allowed: false, code: 403 });
    const message = refused.result.allowed ? '' : refused.result.message;
    expect(message).toContain('ValidatingAdmissionPolicy \'nodeward-kubelet-quarantine\'');
    expect(message).toContain('Nodeward: node q-1 is quarantined after failing attestation');
    expect(message).toContain(na.status?.lastFailure?.reason ?? 'no failure recorded');
    // Interval 1 s: the round that sees the implant runs within a second; the refusal follows it.
    expect(refused.at - tampered).toBeLessThan(10_000);
    // Every kind of write is refused (here: its own Lease and an Event); the other node is untouched.
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'q-1', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'q-1' } };
    const created = await kubelet.kubectl(['create', '-f', '-'], { input: JSON.stringify(lease) });
    expect(created.stderr).toContain('nodeward-kubelet-quarantine');
    const event = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'q-1.probe', namespace: 'default' }, involvedObject: { kind: 'Node', name: 'q-1' }, reason: 'Probe', message: 'probe' };
    expect((await kubelet.kubectl(['create', '-f', '-'], { input: JSON.stringify(event) })).stderr).toContain('nodeward-kubelet-quarantine');
    expect(await probeKubeletWrite(other.kubeConfig, 'q-2', 'healthy')).toEqual({ allowed: true });
    // Reads are not admission requests: the README says what closes them.
    expect((await kubelet.kubectl(['get', 'node', 'q-1', '-o', 'name'])).stdout.trim()).toBe('node/q-1');
    const list = await getJson<{ data?: Record<string, string> }>(stack, ['get', 'configmap', '-n', NODEWARD_NAMESPACE, 'nodeward-kubelet-quarantine']);
    expect(Object.keys(list.data ?? {})).toEqual(['q-1']);
    await waitFor('KubeletIdentityQuarantined Event', async () => (await eventReasons(stack, 'q-1')).includes('KubeletIdentityQuarantined'));
  }, 60_000);

  it('6: recovery allows the kubelet\'s writes again', async () => {
    const n = stack.nodes.get('q-1')!;
    await n.sim.reboot();
    await n.runKnownGood();
    await waitPhase(stack, 'q-1', 'Trusted', 60_000);
    await probeUntil(kubelet, 'q-1', true, 30_000);
    await waitFor('KubeletIdentityRestored Event', async () => (await eventReasons(stack, 'q-1')).includes('KubeletIdentityRestored'));
    const list = await getJson<{ data?: Record<string, string> }>(stack, ['get', 'configmap', '-n', NODEWARD_NAMESPACE, 'nodeward-kubelet-quarantine']);
    expect(list.data ?? {}).toEqual({});
  }, 120_000);
});
