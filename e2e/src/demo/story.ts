import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventsFor, hasTaint, nodeObject, phaseOf } from '../scenarios/kube-read.js';
import { attestationPolicy, NODEWARD_NAMESPACE } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { since, Timeline } from './timeline.js';

export const DEMO_NODES = ['node-1', 'node-2', 'node-3'] as const;

async function credentialExists(stack: Stack, node: string): Promise<boolean> {
  const r = await stack.harness.kubectl(['get', 'secret', '-n', NODEWARD_NAMESPACE, `nodeward-credential-${node}`, '-o', 'name']);
  return r.code === 0;
}

async function show(stack: Stack, t: Timeline, args: string[]): Promise<void> {
  t.show(`kubectl ${args.join(' ')}`, await stack.kubectl(args));
}

async function showEvents(stack: Stack, t: Timeline, node: string): Promise<void> {
  const events = await eventsFor(stack, node);
  t.show(`kubectl get events --field-selector involvedObject.name=${node}`,
    ['REASON                 OBJECT                  MESSAGE', ...events.map((e) =>
      `${e.reason.padEnd(22)} ${`${e.involvedObject.kind}/${e.involvedObject.name}`.padEnd(23)} ${(e.message ?? '').slice(0, 110)}`)].join('\n'));
}

/** Sets up the cluster, three TPM nodes and the operator, and waits until every node is Trusted. */
export async function bringUp(t: Timeline, stateDir: string): Promise<Stack> {
  t.step('starting kube-apiserver + etcd + Redis on loopback');
  const stack = await startStack();
  t.step(`control plane ready in ${(stack.harness.startupMs / 1000).toFixed(1)} s`);
  for (const name of DEMO_NODES) {
    const n = await stack.addNode(name, { 'nodeward.io/attest': 'true' });
    t.step(`${name}: swtpm (EK certificate from a local CA) + agent on https://${n.ip}:9443, booted with dm-verity root hash ${stack.verityRootHash.slice(0, 12)}…`);
  }
  await stack.startOperator('nodeward-operator-0');
  t.step('operator started (leader election, BullMQ workers, CA)');
  const policy = attestationPolicy({ name: 'fleet', selector: { 'nodeward.io/attest': 'true' }, interval: '2s', verityRootHash: stack.verityRootHash });
  const policyFile = join(stateDir, 'policy.json');
  await writeFile(policyFile, JSON.stringify(policy, null, 2));
  await stack.kubectl(['apply', '-f', policyFile]);
  t.step(`kubectl apply -f ${policyFile}   (IMA runtime policy, secure boot + kernel cmdline, dm-verity; taint + cordon + revoke on failure)`);
  const t0 = Date.now();
  for (const name of DEMO_NODES) {
    await waitFor(`${name} Trusted`, async () => (await phaseOf(stack, name)) === 'Trusted', 120_000);
    await waitFor(`${name} credential issued`, () => credentialExists(stack, name), 30_000);
    t.step(`${name} Trusted, credential issued (${since(t0)} after the policy)`);
  }
  await show(stack, t, ['get', 'nodeattestationpolicies']);
  await show(stack, t, ['get', 'nodeattestations']);
  return stack;
}

/** node-2 runs an unknown binary; the operator detects it and acts; node-2 is re-provisioned and recovers. */
export async function playAttack(stack: Stack, t: Timeline): Promise<void> {
  const n2 = stack.nodes.get('node-2')!;
  t.step('ATTACK: node-2 runs /tmp/.cache/xmrig, a binary no runtime policy allows (IMA measures it, PCR 10 moves)');
  const t0 = Date.now();
  await n2.sim.appendImaFile('/tmp/.cache/xmrig', 'cryptominer payload');
  await waitFor('node-2 Untrusted', async () => (await phaseOf(stack, 'node-2')) === 'Untrusted', 60_000);
  t.step(`operator detected it: node-2 Untrusted after ${since(t0)}`);
  await waitFor('node-2 tainted and cordoned', async () => {
    const node = await nodeObject(stack, 'node-2');
    return hasTaint(node) && node.spec?.unschedulable === true;
  }, 30_000);
  t.step(`node-2 tainted attestation.nodeward.io/untrusted:NoSchedule and cordoned after ${since(t0)}`);
  await waitFor('node-2 credential revoked', async () => !(await credentialExists(stack, 'node-2')), 30_000);
  t.step(`node-2 credential revoked (Secret deleted, serial in the CRL, agent copy deleted) after ${since(t0)}`);
  await show(stack, t, ['get', 'nodeattestations']);
  await show(stack, t, ['get', 'node', 'node-2', '-o', 'custom-columns=NAME:.metadata.name,UNSCHEDULABLE:.spec.unschedulable,TAINTS:.spec.taints[*].key']);
  await showEvents(stack, t, 'node-2');
  for (const other of ['node-1', 'node-3']) {
    if ((await phaseOf(stack, other)) !== 'Trusted') throw new Error(`${other} should have stayed Trusted`);
  }
  t.step('node-1 and node-3 stayed Trusted');

  t.step('RECOVERY: node-2 is re-provisioned (reboot into the clean image)');
  const t1 = Date.now();
  await n2.sim.reboot();
  await n2.runKnownGood();
  await waitFor('node-2 Trusted again', async () => (await phaseOf(stack, 'node-2')) === 'Trusted', 90_000);
  t.step(`node-2 Trusted again after ${since(t1)}`);
  await waitFor('node-2 taint lifted and uncordoned', async () => {
    const node = await nodeObject(stack, 'node-2');
    return !hasTaint(node) && node.spec?.unschedulable !== true;
  }, 30_000);
  await waitFor('node-2 credential re-issued', () => credentialExists(stack, 'node-2'), 30_000);
  t.step(`taint lifted, uncordoned, new credential issued after ${since(t1)}`);
  await show(stack, t, ['get', 'nodeattestations']);
  await showEvents(stack, t, 'node-2');
}
