import { isAbsolute, join, posix } from 'node:path';
import { parseAgentArgs } from '@nodeward/agent';
import { repoRoot } from '../harness/repo-root.js';
import { getJson, nodeAttestation } from '../scenarios/kube-read.js';
import { UNTRUSTED_TAINT, credentialSecret, metricSum, waitEnforced, waitPhase, waitUntrusted } from '../scenarios/scenario-helpers.js';
import { pinImages } from '../tools/release-bundle.js';
import { OPERATOR_SERVICE_ACCOUNT } from './install.js';
import { attestationPolicy, NODEWARD_NAMESPACE } from './policy.js';
import { startStack, waitFor, type Stack } from './stack.js';

interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface Container { args: string[]; env?: { name: string }[]; ports: { containerPort: number; hostPort?: number }[]; volumeMounts: Mount[]; image: string }
interface Workload { spec: { template: { spec: { containers: Container[]; hostNetwork?: boolean } } } }

const SA = `system:serviceaccount:${OPERATOR_SERVICE_ACCOUNT.namespace}:${OPERATOR_SERVICE_ACCOUNT.name}`;

/**
 * What the README tells users to run: `kubectl apply -k config/default --server-side` (startStack does it),
 * the operator under the shipped ServiceAccount and RBAC, and a second apply of a newer bundle over a
 * running install.
 */
describe('install from config/default and upgrade in place', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    for (const n of ['node-1', 'node-2']) await stack.addNode(n, { 'nodeward.io/attest': 'true' });
    await stack.startOperator();
    await stack.apply([attestationPolicy({ name: 'fleet', selector: { 'nodeward.io/attest': 'true' }, verityRootHash: stack.verityRootHash, recovery: 'Manual' })]);
  }, 240_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it("the agent DaemonSet, accepted by the API server, gives the agent every file, device and port its flags name", async () => {
    const ds = await getJson<Workload>(stack, ['get', 'daemonset', 'nodeward-agent', '-n', NODEWARD_NAMESPACE]);
    const [c] = ds.spec.template.spec.containers;
    expect(ds.spec.template.spec.hostNetwork).toBe(true);
    // parseArgs is strict: a flag the agent does not know fails here.
    const a = parseAgentArgs(c!.args.map((s) => s.replace('$(NODE_IP)', '10.0.0.1')), {});
    expect(c!.env?.map((e) => e.name)).toContain('NODE_IP');
    expect(c!.ports.map((p) => p.containerPort)).toContain(Number(a.listen.split(':').at(-1)));
    const mounted = (path: string, readOnly?: boolean): boolean => c!.volumeMounts.some((m) =>
      (path === m.mountPath || path.startsWith(`${m.mountPath}/`)) && (readOnly === undefined || (m.readOnly === true) === readOnly));
    const underHost = (p: string): string => posix.join(a['host-root'], isAbsolute(p) ? p.slice(1) : p);
    expect(a.tcti.startsWith('device:')).toBe(true);
    expect(mounted(a.tcti.slice('device:'.length))).toBe(true);
    expect(mounted(underHost('sys/kernel/security/ima/binary_runtime_measurements'), true)).toBe(true);
    expect(mounted(underHost('sys/kernel/security/tpm0/binary_bios_measurements'), true)).toBe(true);
    expect(mounted(underHost(a['credential-dir']), false)).toBe(true);
    for (const f of [a['tls-cert'], a['tls-key'], a['client-ca']]) expect(mounted(f, true)).toBe(true);
    // tpm2-tools writes its context files to the working directory's tmp: a writable /tmp on a read-only root.
    expect(mounted('/tmp', false)).toBe(true);
  });

  it('the operator ServiceAccount can do what the operator does and no more', async () => {
    const can = async (...args: string[]): Promise<boolean> => {
      const r = await stack.harness.kubectl(['auth', 'can-i', `--as=${SA}`, ...args]);
      return r.stdout.trim() === 'yes';
    };
    expect(await can('patch', 'nodes')).toBe(true);
    expect(await can('update', 'nodeattestations/status')).toBe(true);
    expect(await can('create', 'secrets', '-n', NODEWARD_NAMESPACE)).toBe(true);
    expect(await can('get', 'secrets', '-n', 'default')).toBe(false);
    expect(await can('delete', 'nodes')).toBe(false);
    expect(await can('create', 'pods')).toBe(false);
    expect(await can('create', 'pods/eviction', '-n', 'default')).toBe(false);
    expect(await can('create', 'clusterrolebindings')).toBe(false);
    expect(await can('update', 'configmaps', '-n', 'default')).toBe(false);
  });

  it('a newer bundle (new image tag, a new CRD field) applied over a running install loses nothing', async () => {
    await waitPhase(stack, 'node-1', 'Trusted', 90_000);
    await stack.nodes.get('node-2')!.sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    await waitUntrusted(stack, 'node-2');
    await waitEnforced(stack, 'node-2');
    const before = await stateOf(stack);

    const newer = await newerBundle(stack);
    await stack.kubectl(['apply', '--server-side', '-f', '-'], newer);
    // The rolling update: the old replica goes, a new one (of the same build here) takes over.
    await stack.operators[0]!.kill('SIGTERM');
    const upgraded = await stack.startOperator('nodeward-operator-upgraded');

    const deploy = await getJson<Workload>(stack, ['get', 'deployment', 'nodeward-operator', '-n', NODEWARD_NAMESPACE]);
    expect(deploy.spec.template.spec.containers[0]!.image).toBe('ghcr.io/nodeward/operator:0.2.0');
    const crd = await getJson<{ spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }[] } }>(
      stack, ['get', 'crd', 'nodeattestationpolicies.attestation.nodeward.io']);
    expect(Object.keys(crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties)).toContain('upgradeNote');
    // The new field is stored, not pruned.
    await stack.kubectl(['patch', 'nodeattestationpolicy', 'fleet', '--type=merge', '-p', '{"spec":{"upgradeNote":"0.2.0"}}']);
    expect((await getJson<{ spec: { upgradeNote?: string } }>(stack, ['get', 'nodeattestationpolicy', 'fleet'])).spec.upgradeNote).toBe('0.2.0');

    // A few rounds under the new replica: still Trusted, still Untrusted and enforced, nothing re-issued or forgotten.
    await waitFor('passing rounds by the upgraded operator', async () => (await metricSum(upgraded.httpPort, 'nodeward_rounds_total', 'result="trusted"')) >= 3, 60_000);
    const after = await stateOf(stack);
    expect({ ...after, node1Last: undefined }).toEqual({ ...before, node1Last: undefined });
  }, 240_000);
});

/** config/default as kustomize renders it, with image tag 0.2.0 and a new optional field in the policy CRD. */
async function newerBundle(stack: Stack): Promise<string> {
  const rendered = await stack.kubectl(['kustomize', join(repoRoot(), 'config/default')]);
  const docs = pinImages(rendered, undefined, { tag: '0.2.0' }).split(/^---$/m);
  const i = docs.findIndex((d) => d.includes('name: nodeattestationpolicies.attestation.nodeward.io'));
  expect(i).toBeGreaterThanOrEqual(0);
  // A sibling of spec.properties.nodeSelector, at its indentation.
  docs[i] = docs[i]!.replace(/^( +)nodeSelector:\n/m, (m, indent: string) => `${indent}upgradeNote:\n${indent}  type: string\n${m}`);
  expect(docs[i]).toContain('upgradeNote:');
  return docs.join('---');
}

async function lastAttestation(stack: Stack, node: string): Promise<string | undefined> {
  return (await getJson<{ status?: { lastAttestationTime?: string } }>(stack, ['get', 'nodeattestation', node])).status?.lastAttestationTime;
}

async function stateOf(stack: Stack): Promise<Record<string, unknown>> {
  const node2 = await getJson<{ spec?: { taints?: { key: string }[]; unschedulable?: boolean } }>(stack, ['get', 'node', 'node-2']);
  const n1 = await nodeAttestation(stack, 'node-1');
  const n2 = await nodeAttestation(stack, 'node-2');
  return {
    node1: n1.status?.phase, node2: n2.status?.phase, node1Last: await lastAttestation(stack, 'node-1'),
    node2Taint: node2.spec?.taints?.some((t) => t.key === UNTRUSTED_TAINT), node2Cordoned: node2.spec?.unschedulable,
    node1Credential: (await credentialSecret(stack, 'node-1'))?.data?.['tls.crt'],
    node2Failures: n2.status?.conditions?.find((c) => c.type === 'Trusted')?.reason,
  };
}
