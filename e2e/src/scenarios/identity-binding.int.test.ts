import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attestationPolicy } from '../stack/policy.js';
import { createLogger, startAgent } from '@nodeward/agent';
import { AGENT_PORT, startStack, waitFor, type Stack } from '../stack/stack.js';
import { eventsFor, nodeAttestation, phaseOf } from './kube-read.js';
import { credentialSecret, lastAttestationTime, waitCredentialSerial, waitPhase } from './scenario-helpers.js';

/**
 * A node's name is bound to its TPM; an address is never its identity (issue 18, items 1-2). The
 * attacks go through the API server as a node's kubelet could (it writes its own Node status) or as
 * anyone with Node create rights: a Node `rogue` claiming node-2's address, and node-1's InternalIP
 * changed to node-3's. Neither may become Trusted, take another node's TPM, or touch its credential.
 */
const LABELS = { 'nodeward.io/attest': 'true' };

const CREDENTIAL = 'var/lib/nodeward/credential/node.crt';

describe('identity binding: an address is never a node\'s identity (real apiserver, Redis, swtpm agents, operator process)', () => {
  let stack: Stack;
  const onDisk = async (node: string): Promise<string> => readFile(join(stack.nodes.get(node)!.sim.hostRoot, CREDENTIAL), 'utf8');
  const setAddress = async (node: string, ip: string): Promise<void> => {
    await stack.kubectl(['patch', 'node', node, '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: node }] } })]);
  };
  /** Samples the phase every 250 ms for `ms` and returns every phase seen. */
  const phasesFor = async (node: string, ms: number): Promise<Set<string | undefined>> => {
    const seen = new Set<string | undefined>();
    for (const end = Date.now() + ms; Date.now() < end;) {
      seen.add(await phaseOf(stack, node));
      await new Promise((r) => setTimeout(r, 250));
    }
    return seen;
  };

  beforeAll(async () => {
    // Status (lastAttestationTime) is rewritten at most once per heartbeat: a short one makes every round visible.
    stack = await startStack({ operatorEnv: { NODEWARD_HEARTBEAT_MS: '500' } });
    for (const n of ['node-1', 'node-2', 'node-3']) await stack.addNode(n, LABELS);
    await stack.startOperator();
    await stack.apply([attestationPolicy({ name: 'fleet', selector: LABELS, verityRootHash: stack.verityRootHash })]);
    for (const n of ['node-1', 'node-2', 'node-3']) {
      await waitPhase(stack, n, 'Trusted', 120_000);
      await waitCredentialSerial(stack, n);
      await waitFor(`${n}'s credential delivered`, async () => onDisk(n).then(() => true, () => false), 30_000);
    }
  }, 300_000);
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    await stack?.stop();
  }, 60_000);

  it('a Node named rogue with node-2\'s labels and InternalIP never becomes Trusted or gets a credential; node-2 is untouched', async () => {
    const node2Credential = await onDisk('node-2');
    const node2Ak = (await nodeAttestation(stack, 'node-2')).status?.identity?.akName;
    await stack.kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'rogue', labels: LABELS } }));
    await setAddress('rogue', stack.nodes.get('node-2')!.ip);

    const refused = await waitFor('rogue refused with an identity failure', async () => {
      const na = await nodeAttestation(stack, 'rogue').catch(() => undefined);
      return /^identity\./.test(na?.status?.lastFailure?.reason ?? '') ? na : undefined;
    }, 60_000);
    expect(refused.status?.identity?.akName).toBeUndefined();
    // Several policy intervals (1 s) and operator resyncs (5 s): rogue is never Trusted.
    expect([...await phasesFor('rogue', 12_000)]).not.toContain('Trusted');
    const na = await nodeAttestation(stack, 'rogue');
    expect(na.status?.lastFailure?.reason).toMatch(/^identity\.(ek_claimed_by_other_node|agent_serves_other_node)$/);
    expect(na.status?.identity?.akName).toBeUndefined();
    const warning = (await eventsFor(stack, 'rogue')).find((e) => e.reason === 'IdentityRefused');
    expect(warning?.message).toContain('node-2');
    expect(await credentialSecret(stack, 'rogue')).toBeUndefined();

    expect(await onDisk('node-2')).toBe(node2Credential);
    expect(new X509Certificate(await onDisk('node-2')).subjectAltName).toContain('DNS:node-2');
    expect(await phaseOf(stack, 'node-2')).toBe('Trusted');
    expect((await nodeAttestation(stack, 'node-2')).status?.identity?.akName).toBe(node2Ak);
  }, 120_000);

  it('node-1\'s InternalIP changed to node-3\'s address: node-1 is not Trusted, with an identity failure; node-3 is untouched', async () => {
    const node3Credential = await onDisk('node-3');
    await setAddress('node-1', stack.nodes.get('node-3')!.ip);

    const na = await waitFor('node-1 identity failure', async () => {
      const cur = await nodeAttestation(stack, 'node-1');
      return /^identity\./.test(cur.status?.lastFailure?.reason ?? '') ? cur : undefined;
    }, 60_000);
    expect(na.status?.phase).not.toBe('Trusted');
    expect([...await phasesFor('node-1', 8_000)]).not.toContain('Trusted');
    expect((await nodeAttestation(stack, 'node-1')).status?.lastFailure?.reason).toMatch(/^identity\./);
    expect((await eventsFor(stack, 'node-1')).some((e) => e.reason === 'IdentityRefused' && e.message?.includes('node-3'))).toBe(true);

    expect(await onDisk('node-3')).toBe(node3Credential);
    expect(await phaseOf(stack, 'node-3')).toBe('Trusted');
  }, 120_000);

  it('node-2 really moving (its own agent and TPM at a new address) is re-verified there and stays Trusted', async () => {
    const n2 = stack.nodes.get('node-2')!;
    const ak = (await nodeAttestation(stack, 'node-2')).status?.identity?.akName;
    await n2.stopAgent();
    const ip = stack.harness.addresses.next();
    const moved = await startAgent({ listen: { host: ip, port: AGENT_PORT }, tcti: n2.sim.tcti, hostRoot: n2.sim.hostRoot, nodeName: 'node-2',
      tls: { ...await stack.pki.agentServerCert(ip, 'node-2'), clientCaPem: stack.pki.operatorCa.certPem }, logger: createLogger({ write: () => undefined }) });
    cleanups.push(() => moved.close());
    await setAddress('node-2', ip);

    await waitFor('node-2 re-verified at its new address', async () => {
      const na = await nodeAttestation(stack, 'node-2') as { status?: { identity?: { agentAddress?: string } } };
      return na.status?.identity?.agentAddress === ip;
    }, 60_000);
    const before = await lastAttestationTime(stack, 'node-2');
    await waitFor('a round at the new address', async () => (await lastAttestationTime(stack, 'node-2')) > before, 30_000);
    expect(await phaseOf(stack, 'node-2')).toBe('Trusted');
    expect((await nodeAttestation(stack, 'node-2')).status?.identity?.akName).toBe(ak);
  }, 120_000);
});
