import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '@nodeward/agent';
import { createLogger } from '@nodeward/agent';
import { encodeImaNgEntry } from '../sim/attest-parts.js';
import { IMA_PATH, prepareSimNode, type SimNode } from '../sim/sim-node.js';
import { freePort } from '../sim/free-port.js';
import { KNOWN_GOOD_FILES, attestationPolicy } from '../stack/policy.js';
import { AGENT_PORT, startStack, waitFor, type Stack, type StackNode } from '../stack/stack.js';
import { hasTaint, nodeAttestation, nodeObject } from './kube-read.js';
import { startReplayingAgent } from './replaying-agent.js';
import {
  eventCount, eventReasons, lastAttestationTime, waitCredentialSerial, waitEnforced, waitLifted, waitPhase,
  waitRevoked, waitUntrusted,
} from './scenario-helpers.js';

/**
 * Evidence tampering, one scenario per simulated node, all under one Enforce policy (plus one node
 * under an Audit policy): each must end Untrusted with the right failure id, tainted, cordoned, its
 * credential revoked, and the Events a user would look for.
 */
const ENFORCED = ['t-unknown', 't-rewrite', 't-verity', 't-cmdline', 't-secureboot', 't-impostor', 't-replay'] as const;
const silent = createLogger({ write: () => undefined });

describe('tampered evidence is detected and enforced (real apiserver, Redis, swtpm agents, operator process)', () => {
  let stack: Stack;
  const serials = new Map<string, string>();
  const cleanups: (() => Promise<void>)[] = [];
  const node = (name: string): StackNode => stack.nodes.get(name)!;

  beforeAll(async () => {
    // Status (lastAttestationTime) is rewritten at most once per heartbeat: a short one makes every round visible.
    stack = await startStack({ operatorEnv: { NODEWARD_HEARTBEAT_MS: '500' } });
    for (const n of ENFORCED) await stack.addNode(n, { 'nodeward.io/attest': 'enforce' });
    await stack.addNode('a-audit', { 'nodeward.io/attest': 'audit' });
    await stack.startOperator();
    await stack.apply([
      attestationPolicy({ name: 'enforce', selector: { 'nodeward.io/attest': 'enforce' }, verityRootHash: stack.verityRootHash }),
      attestationPolicy({ name: 'audit', mode: 'Audit', selector: { 'nodeward.io/attest': 'audit' }, verityRootHash: stack.verityRootHash }),
    ]);
    for (const n of [...ENFORCED, 'a-audit']) await waitPhase(stack, n, 'Trusted', 120_000);
    for (const n of ENFORCED) serials.set(n, await waitCredentialSerial(stack, n));
  }, 300_000);
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    await stack?.stop();
  }, 60_000);

  /** Verdict, actions and Events of an enforced failure. */
  async function expectEnforcedFailure(name: string, reason: string | RegExp): Promise<void> {
    const na = await waitUntrusted(stack, name);
    expect(na.status?.lastFailure?.reason).toMatch(reason);
    await waitEnforced(stack, name);
    await waitRevoked(stack, name, serials.get(name)!);
    expect(await eventReasons(stack, name)).toEqual(expect.arrayContaining(['AttestationFailed', 'NodeTainted', 'NodeCordoned', 'CredentialsRevoked']));
  }

  it('an unknown executable is reported as ima.path_not_in_policy', async () => {
    await node('t-unknown').sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    await expectEnforcedFailure('t-unknown', /^ima\.path_not_in_policy$/);
  }, 120_000);

  it('an IMA entry rewritten to hide a file (PCR 10 no longer matches) is ima.pcr_mismatch', async () => {
    const n = node('t-rewrite');
    // The attacker's file is measured (log + PCR 10), then its entry is rewritten as a known-good file before anyone reads it.
    await n.stopAgent();
    await n.sim.appendImaFile('/tmp/rootkit', 'a rootkit');
    const path = join(n.sim.hostRoot, IMA_PATH);
    const log = await readFile(path);
    const real = encodeImaNgEntry({ path: '/tmp/rootkit', fileDigest: sha256('a rootkit'), fileDigestAlg: 'sha256' }).bytes;
    expect(log.subarray(log.length - real.length).equals(Buffer.from(real))).toBe(true);
    const kubelet = KNOWN_GOOD_FILES[0]!;
    const fake = encodeImaNgEntry({ path: kubelet.path, fileDigest: sha256(kubelet.contents), fileDigestAlg: 'sha256' }).bytes;
    await writeFile(path, Buffer.concat([log.subarray(0, log.length - real.length), fake]));
    await n.startAgent();
    await expectEnforcedFailure('t-rewrite', /^ima\.pcr_mismatch$/);
  }, 120_000);

  it('dm-verity corruption reported at runtime is verity.corrupted', async () => {
    await node('t-verity').sim.setVerityCorrupted(true);
    await expectEnforcedFailure('t-verity', /^verity\.corrupted$/);
  }, 120_000);

  it('a boot with another kernel command line (another root hash) is a verity.roothash_* failure', async () => {
    const n = node('t-cmdline');
    // The agent is down while the node reboots, as on a real node (no round sees a half-replayed boot).
    await n.stopAgent();
    await n.sim.reboot({ cmdline: `root=/dev/mapper/root ro ima_policy=tcb roothash=${'ab'.repeat(32)}` });
    await n.runKnownGood();
    await n.startAgent();
    await expectEnforcedFailure('t-cmdline', /^verity\.roothash_/);
  }, 120_000);

  it('a boot with secure boot disabled is bootlog.secure_boot_disabled', async () => {
    const n = node('t-secureboot');
    await n.stopAgent();
    await n.sim.reboot({ secureBoot: false });
    await n.runKnownGood();
    await n.startAgent();
    await expectEnforcedFailure('t-secureboot', /^bootlog\.secure_boot_disabled$/);
  }, 120_000);

  it('an agent answering from another TPM is IdentityChanged and stays Untrusted until the new AK is approved', async () => {
    const n = node('t-impostor');
    const impostor = await startImpostor(n);
    const na = await waitUntrusted(stack, 't-impostor');
    expect(na.status?.lastFailure?.detail).toContain('identity.ak_changed');
    expect(trustedReason(na)).toBe('IdentityChanged');
    await waitEnforced(stack, 't-impostor');
    await waitRevoked(stack, 't-impostor', serials.get('t-impostor')!);
    expect(await eventReasons(stack, 't-impostor')).toEqual(expect.arrayContaining(['IdentityChanged', 'NodeTainted', 'CredentialsRevoked']));
    // Rounds go on against the impostor, whose evidence is otherwise self-consistent: still held.
    const since = await lastAttestationTime(stack, 't-impostor');
    await waitFor('two more rounds on t-impostor', async () => (await lastAttestationTime(stack, 't-impostor')) > since + 1500, 30_000);
    const held = await nodeAttestation(stack, 't-impostor');
    expect(held.status?.phase).toBe('Untrusted');
    expect(trustedReason(held)).toBe('IdentityChanged');
    expect(await eventCount(stack, 't-impostor', 'IdentityChanged')).toBe(1);

    await stack.kubectl(['annotate', 'nodeattestation', 't-impostor', `attestation.nodeward.io/approve-identity=${impostor.identity.akName}`]);
    await waitPhase(stack, 't-impostor', 'Trusted');
    await waitLifted(stack, 't-impostor');
    const after = await nodeAttestation(stack, 't-impostor');
    expect(after.status?.identity?.akName).toBe(impostor.identity.akName.toLowerCase());
  }, 180_000);

  it('a replayed quote (old nonce) is quote.nonce_mismatch', async () => {
    const n = node('t-replay');
    const upstreamPort = await freePort();
    await n.stopAgent();
    const tls = await stack.pki.agentServerCert(n.ip, n.name);
    const real = await startAgent({ listen: { host: n.ip, port: upstreamPort }, tcti: n.sim.tcti, hostRoot: n.sim.hostRoot,
      tls: { ...tls, clientCaPem: stack.pki.operatorCa.certPem }, logger: silent });
    cleanups.push(() => real.close());
    const replaying = await startReplayingAgent({
      host: n.ip, port: AGENT_PORT, tls: { ...tls, clientCaPem: stack.pki.operatorCa.certPem }, upstream: real.url,
      client: { certPem: stack.pki.operatorClient.certPem, keyPem: stack.pki.operatorClient.keyPem, caPem: stack.pki.agentCa.certPem },
    });
    cleanups.push(() => replaying.close());
    await expectEnforcedFailure('t-replay', /^quote\.nonce_mismatch$/);
    expect(replaying.replayed()).toBeGreaterThan(0);
  }, 120_000);

  it('Audit mode records the same violation with Events only: no taint, no cordon, no revocation', async () => {
    await node('a-audit').sim.appendImaFile('/tmp/xmrig', 'a cryptominer');
    const na = await waitUntrusted(stack, 'a-audit');
    expect(na.status?.lastFailure?.reason).toBe('ima.path_not_in_policy');
    await waitFor('AttestationFailed Event on a-audit', async () => (await eventReasons(stack, 'a-audit')).includes('AttestationFailed'), 30_000);
    const since = await lastAttestationTime(stack, 'a-audit');
    await waitFor('two more rounds on a-audit', async () => (await lastAttestationTime(stack, 'a-audit')) > since + 1500, 30_000);
    const n = await nodeObject(stack, 'a-audit');
    expect(hasTaint(n)).toBe(false);
    expect(n.spec?.unschedulable).not.toBe(true);
    expect((await eventReasons(stack, 'a-audit')).filter((r) => ['NodeTainted', 'NodeCordoned', 'CredentialsRevoked'].includes(r))).toEqual([]);
    expect((await nodeAttestation(stack, 'a-audit')).status?.enforcement).toEqual(expect.objectContaining({ tainted: false, cordoned: false, credentialsRevoked: false }));
  }, 120_000);

  /** Stops the node's agent and starts one on the same address backed by a freshly manufactured TPM. */
  async function startImpostor(n: StackNode): Promise<RunningAgent> {
    await n.stopAgent();
    const sim: SimNode = await prepareSimNode({ name: n.name, ip: n.ip, baseDir: join(stack.dir, 'impostor'), ca: stack.swtpmCa });
    cleanups.push(() => sim.stop());
    for (const f of KNOWN_GOOD_FILES) await sim.appendImaFile(f.path, f.contents);
    const tls = await stack.pki.agentServerCert(n.ip, n.name);
    const agent = await startAgent({ listen: { host: n.ip, port: AGENT_PORT }, tcti: sim.tcti, hostRoot: sim.hostRoot,
      tls: { ...tls, clientCaPem: stack.pki.operatorCa.certPem }, logger: silent });
    cleanups.unshift(() => agent.close());
    return agent;
  }
});

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function trustedReason(na: { status?: { conditions?: { type: string; reason: string }[] } }): string | undefined {
  return na.status?.conditions?.find((c) => c.type === 'Trusted')?.reason;
}
