import { attestationPolicy, type PolicyOptions } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { getJson, hasTaint, nodeAttestation, nodeObject, phaseOf } from './kube-read.js';
import {
  UNREACHABLE_TAINT, eventReasons, lastAttestationTime, waitCredentialSerial, waitEnforced, waitLifted, waitPhase, waitRevoked, waitUntrusted,
} from './scenario-helpers.js';

/**
 * What a user does with policies and nodes over time: an agent going away and coming back, Manual
 * recovery, live policy edits, relabelling a node out of a policy, deleting a policy, and a policy
 * the API server rejects.
 */
const NODES: Record<string, string> = { 'p-unreach': 'fleet', 'p-relabel': 'fleet', 'p-edit': 'edit', 'm-manual': 'manual', 'd-node': 'doomed' };
const LABEL = 'nodeward.io/attest';

describe('policy and node lifecycle (real apiserver, Redis, swtpm agents, operator process)', () => {
  let stack: Stack;
  const policy = (name: string, extra: Partial<PolicyOptions> = {}): ReturnType<typeof attestationPolicy> =>
    attestationPolicy({ name, selector: { [LABEL]: name }, verityRootHash: stack.verityRootHash, ...extra });

  beforeAll(async () => {
    // Status (lastAttestationTime) is rewritten at most once per heartbeat: a short one makes every round visible.
    stack = await startStack({ operatorEnv: { NODEWARD_HEARTBEAT_MS: '500' } });
    for (const [n, p] of Object.entries(NODES)) await stack.addNode(n, { [LABEL]: p });
    await stack.startOperator();
    await stack.apply([policy('fleet'), policy('edit'), policy('manual', { recovery: 'Manual' }), policy('doomed')]);
    for (const n of Object.keys(NODES)) await waitPhase(stack, n, 'Trusted', 120_000);
  }, 300_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  it('rejects an invalid policy at kubectl apply with a clear message', async () => {
    const bad = policy('bad', { interval: '100ms' });
    await expect(stack.apply([bad])).rejects.toThrow(/interval must be between 1s and 1h, got 100ms/);
    expect(await stack.kubectl(['get', 'nodeattestationpolicy', 'bad', '--ignore-not-found'])).toBe('');
  }, 60_000);

  it('an agent down past the miss threshold is Unreachable and tainted, then recovers when it is back', async () => {
    const n = stack.nodes.get('p-unreach')!;
    await n.stopAgent();
    await waitPhase(stack, 'p-unreach', 'Unreachable', 60_000);
    const na = await nodeAttestation(stack, 'p-unreach');
    expect(na.status?.conditions?.find((c) => c.type === 'Trusted')?.reason).toBe('AgentUnreachable');
    await waitFor('unreachable taint', async () => hasTaint(await nodeObject(stack, 'p-unreach'), UNREACHABLE_TAINT), 30_000);
    expect(await eventReasons(stack, 'p-unreach')).toContain('AgentUnreachable');

    await n.startAgent();
    await waitPhase(stack, 'p-unreach', 'Trusted', 60_000);
    await waitLifted(stack, 'p-unreach');
    expect(await eventReasons(stack, 'p-unreach')).toContain('AttestationRecovered');
  }, 180_000);

  it('Manual recovery: a fixed node stays Untrusted and enforced until annotated recover=true', async () => {
    const n = stack.nodes.get('m-manual')!;
    const serial = await waitCredentialSerial(stack, 'm-manual');
    await n.sim.setVerityCorrupted(true);
    expect((await waitUntrusted(stack, 'm-manual')).status?.lastFailure?.reason).toBe('verity.corrupted');
    await waitEnforced(stack, 'm-manual');
    await waitRevoked(stack, 'm-manual', serial);

    await n.sim.setVerityCorrupted(false);
    // Corruption is sticky until a reboot: the node is fixed by re-provisioning it.
    await n.sim.reboot();
    await n.runKnownGood();
    await waitFor('m-manual awaiting manual recovery', async () =>
      (await nodeAttestation(stack, 'm-manual')).status?.conditions?.some((c) => c.type === 'Trusted' && c.reason === 'AwaitingManualRecovery'), 60_000);
    expect(await phaseOf(stack, 'm-manual')).toBe('Untrusted');
    expect(hasTaint(await nodeObject(stack, 'm-manual'))).toBe(true);

    await stack.kubectl(['annotate', 'nodeattestation', 'm-manual', 'attestation.nodeward.io/recover=true']);
    await waitPhase(stack, 'm-manual', 'Trusted', 60_000);
    await waitLifted(stack, 'm-manual');
    expect(await eventReasons(stack, 'm-manual')).toContain('AttestationRecovered');
    await waitFor('recover annotation cleared', async () =>
      (await getJson<{ metadata: { annotations?: Record<string, string> } }>(stack, ['get', 'nodeattestation', 'm-manual'])).metadata.annotations?.['attestation.nodeward.io/recover'] === undefined, 30_000);
  }, 180_000);

  it('a live edit of the PCR set takes effect: a PCR added with a wrong golden value fails, the right one passes', async () => {
    const wrong = policy('edit', { pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16] });
    wrong.spec.tpm.expectedPcrs = { '16': 'ff'.repeat(32) };
    await stack.apply([wrong]);
    const na = await waitUntrusted(stack, 'p-edit');
    expect(na.status?.lastFailure?.reason).toBe('quote.pcr_unexpected');
    // PCR 16 is now in the quote (its real value, all zeros, is reported), so the new set was used.
    const message = (na.status?.conditions as { type: string; message?: string }[] | undefined)?.find((c) => c.type === 'Trusted')?.message;
    expect(message).toContain(`PCR 16 is ${'00'.repeat(32)}`);
    await waitPolicyObserved('edit');

    const right = policy('edit', { pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16] });
    right.spec.tpm.expectedPcrs = { '16': '00'.repeat(32) };
    await stack.apply([right]);
    await waitPhase(stack, 'p-edit', 'Trusted', 60_000);
    await waitLifted(stack, 'p-edit');
    await waitPolicyObserved('edit');
  }, 180_000);

  it('a live edit of the interval changes the round schedule', async () => {
    const before = await roundGaps('p-edit', 3);
    const slower = policy('edit', { interval: '10s', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16] });
    slower.spec.tpm.expectedPcrs = { '16': '00'.repeat(32) };
    await stack.apply([slower]);
    await waitPolicyObserved('edit');
    await roundGaps('p-edit', 1, 40_000); // let a round scheduled under the old interval pass
    const after = await roundGaps('p-edit', 2, 60_000);
    console.log(`p-edit round gaps (ms): at 1s ${before.join(', ')}; at 10s ${after.join(', ')}`);
    // Rounds never come earlier than the schedule (a lower bound holds however loaded the machine is),
    // and the new schedule is slower than the old one was, even when load stretched the old gaps.
    expect(Math.min(...after)).toBeGreaterThanOrEqual(9_000);
    expect([...before].sort((x, y) => x - y)[1]).toBeLessThan(Math.min(...after));
    expect(await phaseOf(stack, 'p-edit')).toBe('Trusted');
  }, 180_000);

  it('an enforced node relabelled out of the selector keeps its enforcement until an administrator deletes its NodeAttestation', async () => {
    await stack.nodes.get('p-relabel')!.sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    await waitUntrusted(stack, 'p-relabel');
    await waitEnforced(stack, 'p-relabel');
    await stack.kubectl(['label', 'node', 'p-relabel', `${LABEL}-`]);
    await waitFor('p-relabel LeftPolicy', async () =>
      (await nodeAttestation(stack, 'p-relabel')).status?.conditions?.some((c) => c.type === 'LeftPolicy' && c.status === 'True') === true, 60_000);
    await waitEnforced(stack, 'p-relabel');
    // The administrator's release: delete the NodeAttestation.
    await stack.kubectl(['delete', 'nodeattestation', 'p-relabel']);
    await waitLifted(stack, 'p-relabel');
  }, 120_000);

  it('deleting a policy deletes its NodeAttestations and lifts their actions', async () => {
    await stack.nodes.get('d-node')!.sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    await waitUntrusted(stack, 'd-node');
    await waitEnforced(stack, 'd-node');
    await stack.kubectl(['delete', 'nodeattestationpolicy', 'doomed']);
    await waitFor('d-node NodeAttestation deleted', async () =>
      (await stack.kubectl(['get', 'nodeattestation', 'd-node', '--ignore-not-found'])).trim() === '', 60_000);
    await waitLifted(stack, 'd-node');
    expect(await phaseOf(stack, 'p-unreach')).toBe('Trusted');
  }, 120_000);

  async function waitPolicyObserved(name: string): Promise<void> {
    await waitFor(`policy ${name} observedGeneration`, async () => {
      const p = await getJson<{ metadata: { generation: number }; status?: { observedGeneration?: number } }>(stack, ['get', 'nodeattestationpolicy', name]);
      return p.status?.observedGeneration === p.metadata.generation;
    }, 30_000);
  }

  /** The next `count` gaps between successive lastAttestationTime values of a node. */
  async function roundGaps(node: string, count: number, timeoutMs = 30_000): Promise<number[]> {
    const seen = [await lastAttestationTime(stack, node)];
    await waitFor(`${count} rounds on ${node}`, async () => {
      const t = await lastAttestationTime(stack, node);
      if (t !== seen[seen.length - 1]) seen.push(t);
      return seen.length > count + 1;
    }, timeoutMs, 100);
    return seen.slice(2).map((t, i) => t - seen[i + 1]!);
  }
});
