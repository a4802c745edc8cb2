import { attestationPolicy } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { eventsFor, hasTaint, nodeObject, phaseOf } from './kube-read.js';

describe('attestation lifecycle (real apiserver, Redis, swtpm agents, operator process)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    for (const n of ['node-1', 'node-2', 'node-3']) await stack.addNode(n, { 'nodeward.io/attest': 'true' });
    await stack.startOperator();
    await stack.apply([attestationPolicy({ name: 'fleet', selector: { 'nodeward.io/attest': 'true' }, verityRootHash: stack.verityRootHash })]);
  }, 240_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it('registers every node and trusts it', async () => {
    for (const n of ['node-1', 'node-2', 'node-3']) {
      await waitFor(`${n} Trusted`, async () => (await phaseOf(stack, n)) === 'Trusted', 90_000);
    }
  }, 120_000);

  it('an unknown binary on node-2 taints, cordons and revokes it; the others stay Trusted', async () => {
    await stack.nodes.get('node-2')!.sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    await waitFor('node-2 Untrusted', async () => (await phaseOf(stack, 'node-2')) === 'Untrusted', 60_000);
    const node = await waitFor('node-2 tainted and cordoned', async () => {
      const n = await nodeObject(stack, 'node-2');
      return hasTaint(n) && n.spec?.unschedulable === true ? n : undefined;
    }, 30_000);
    expect(hasTaint(node)).toBe(true);
    // Revocation follows taint and cordon: wait for its Event (up to 30 s) before checking all four.
    const wanted = ['AttestationFailed', 'NodeTainted', 'NodeCordoned', 'CredentialsRevoked'];
    const reasons = await waitFor('node-2 enforcement Events', async () => {
      const r = (await eventsFor(stack, 'node-2')).map((e) => e.reason);
      return wanted.every((w) => r.includes(w)) ? r : undefined;
    }, 30_000).catch(async () => (await eventsFor(stack, 'node-2')).map((e) => e.reason));
    expect(reasons).toEqual(expect.arrayContaining(wanted));
    expect(await phaseOf(stack, 'node-1')).toBe('Trusted');
    expect(await phaseOf(stack, 'node-3')).toBe('Trusted');
  }, 120_000);

  it('re-provisioning (reboot to a clean image) recovers node-2 automatically', async () => {
    const n2 = stack.nodes.get('node-2')!;
    await n2.sim.reboot();
    await n2.runKnownGood();
    await waitFor('node-2 Trusted again', async () => (await phaseOf(stack, 'node-2')) === 'Trusted', 60_000);
    await waitFor('taint lifted', async () => !hasTaint(await nodeObject(stack, 'node-2')), 30_000);
    expect((await eventsFor(stack, 'node-2')).map((e) => e.reason)).toContain('AttestationRecovered');
  }, 120_000);
});
