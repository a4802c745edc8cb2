import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentTpm, createLogger, joinCluster, JoinDenied, type JoinResult, type Logger } from '@nodeward/agent';
import { JOIN_PROOF_ANNOTATION, joinQuoteNonce, type JoinProof } from '@nodeward/attest';
import type { BootstrapIdentity } from '../harness/harness.js';
import { runKubectl } from '../harness/kubectl.js';
import { repoRoot } from '../harness/repo-root.js';
import { createSwtpmCa } from '../sim/swtpm.js';
import { prepareSimNode, type SimNode } from '../sim/sim-node.js';
import { attestationPolicy } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';
import { phaseOf } from './kube-read.js';
import { lastAttestationTime, waitPhase } from './scenario-helpers.js';

/**
 * Issue 19, scenarios 1-4 and 7: a machine with a TPM and a bootstrap token joins as a node only after
 * its TPM proved itself to Nodeward, through the real API server (bootstrap token auth, Node,RBAC,
 * NodeRestriction), the real kube-controller-manager signing what Nodeward approved, swtpm TPMs and the
 * operator process under its shipped RBAC. The joining side is the agent's bootstrap mode (joinCluster).
 */
const LABELS = { 'nodeward.io/attest': 'true' };
const EVENT_LOG = 'sys/kernel/security/tpm0/binary_bios_measurements';
const AK_HANDLE = 0x81010002;
const EK_HANDLE = 0x81010001;
const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

interface CsrRead { status?: { certificate?: string; conditions?: { type: string; reason?: string; message?: string }[] } }

describe('attested join: a kubelet identity only for a TPM that proved itself (real apiserver + KCM, swtpm, operator)', () => {
  let stack: Stack;
  let token: BootstrapIdentity;
  const sims: SimNode[] = [];
  const log: Logger = createLogger({ level: 'warn' });

  const machine = async (name: string, ca: { setupConfig: string } = stack.swtpmCa): Promise<SimNode> => {
    const sim = await prepareSimNode({ name, ip: stack.harness.addresses.next(), baseDir: join(stack.dir, 'joiners'), ca });
    sims.push(sim);
    return sim;
  };
  const openTpm = (sim: SimNode): Promise<AgentTpm> => AgentTpm.open({ tcti: sim.tcti, akType: 'rsa', akHandle: AK_HANDLE, ekHandle: EK_HANDLE, scratchParent: sim.dir });
  const join_ = async (sim: SimNode, nodeName: string): Promise<JoinResult & { kubeconfigPath: string }> => {
    const tpm = await openTpm(sim);
    try {
      const kubeconfigPath = join(sim.dir, 'kubelet', 'kubeconfig');
      const r = await joinCluster({
        api: { server: stack.harness.server, caPem: stack.harness.pki.ca.certPem, token: token.token.token },
        nodeName, tpm, kubeconfigPath, certDir: join(sim.dir, 'kubelet', 'pki'), eventLogPath: join(sim.hostRoot, EVENT_LOG),
        timeoutMs: 30_000, pollMs: 50, log,
      });
      return { ...r, kubeconfigPath };
    } finally {
      await tpm.close();
    }
  };
  const asKubelet = (kubeconfigPath: string) => (args: string[], input?: string) =>
    runKubectl({ kubectl: stack.harness.binaries.kubectl, kubeconfigPath, cacheDir: `${kubeconfigPath}-cache` }, args, input === undefined ? {} : { input });
  const csrConditions = async (name: string): Promise<{ type: string; reason?: string; message?: string }[]> =>
    (JSON.parse(await stack.kubectl(['get', 'csr', name, '-o', 'json'])) as CsrRead).status?.conditions ?? [];
  const waitDecided = (name: string): Promise<{ type: string; reason?: string; message?: string }> =>
    waitFor(`CSR ${name} decided`, async () => (await csrConditions(name)).find((c) => c.type === 'Approved' || c.type === 'Denied'), 30_000, 100);
  /** Creates a kubelet-signer CSR as the bootstrap token; returns its name. */
  const createCsr = async (o: { subject?: string; usages?: string[]; signerName?: string; annotations?: Record<string, string>; keys?: webcrypto.CryptoKeyPair }): Promise<string> => {
    const keys = o.keys ?? await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
    const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: o.subject ?? 'CN=system:node:worker-7, O=system:nodes', keys, signingAlgorithm: ecdsa });
    const body = {
      apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest',
      metadata: { generateName: 'hostile-', annotations: o.annotations ?? {} },
      spec: { request: Buffer.from(req.toString('pem')).toString('base64'), signerName: o.signerName ?? 'kubernetes.io/kube-apiserver-client-kubelet', usages: o.usages ?? ['digital signature', 'client auth'] },
    };
    const r = await token.kubectl(['create', '-f', '-', '-o', 'jsonpath={.metadata.name}'], { input: JSON.stringify(body) });
    if (r.code !== 0) throw new Error(`creating a CSR as the bootstrap token failed: ${r.stderr}`);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    // Status (lastAttestationTime) is rewritten at most once per heartbeat: a short one shows rounds continuing.
    stack = await startStack({ kubeControllerManager: true, operatorEnv: { NODEWARD_HEARTBEAT_MS: '500' } });
    await stack.addNode('node-1', LABELS);
    await stack.startOperator();
    await stack.kubectl(['apply', '-f', join(repoRoot(), 'config/rbac/join-bootstrappers.yaml')]);
    // A broad policy on purpose: even `*` never lets a join take a name that exists (e.g. a control plane).
    const policy = attestationPolicy({ name: 'fleet', selector: LABELS, verityRootHash: stack.verityRootHash });
    await stack.apply([{ ...policy, spec: { ...policy.spec, join: { nodeNames: ['*'] } } }]);
    await stack.kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'control-plane-1', labels: { 'node-role.kubernetes.io/control-plane': '' } } }));
    token = await stack.harness.bootstrapIdentity();
    await waitPhase(stack, 'node-1', 'Trusted', 120_000);
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled(sims.map((s) => s.stop()));
    await stack?.stop();
  }, 60_000);

  it('scenario 1: a new swtpm machine joins; its kubeconfig is system:node:<name>, which creates its Node and reads its pod\'s secret', async () => {
    const sim = await machine('worker-1');
    const joined = await join_(sim, 'worker-1');
    expect(joined.timings.total).toBeLessThan(30_000);
    const pem = await readFile(joined.pemFile, 'utf8');
    const cert = new x509.X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25));
    expect(cert.subjectName.getField('CN')).toEqual(['system:node:worker-1']);
    expect((await waitDecided(joined.csr)).reason).toBe('NodewardAttestedJoin');

    const kubelet = asKubelet(joined.kubeconfigPath);
    expect((await kubelet(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout).toBe('system:node:worker-1');
    const created = await kubelet(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker-1' } }));
    expect(created.stderr).toBe('');
    expect((await kubelet(['label', 'node', 'worker-1', 'pool=a'])).code).toBe(0);
    // NodeRestriction: the new identity is a node's, not more.
    expect((await kubelet(['label', 'node', 'node-1', 'pool=a'])).code).not.toBe(0);

    await stack.kubectl(['create', 'secret', 'generic', 'w1-secret', '--from-literal=k=v']);
    await stack.kubectl(['create', 'secret', 'generic', 'other-secret', '--from-literal=k=v']);
    await stack.kubectl(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'w1-pod', namespace: 'default' },
      spec: { nodeName: 'worker-1', containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 's', secret: { secretName: 'w1-secret' } }] },
    }));
    await waitFor('the Node authorizer to see w1-pod', async () => (await kubelet(['get', 'secret', 'w1-secret', '-n', 'default'])).code === 0, 15_000);
    expect((await kubelet(['get', 'secret', 'other-secret', '-n', 'default'])).stderr).toMatch(/forbidden/i);
  }, 120_000);

  it('scenario 2: a stolen bootstrap token without a TPM proof is denied', async () => {
    const name = await createCsr({ subject: 'CN=system:node:worker-2, O=system:nodes' });
    const c = await waitDecided(name);
    expect(c).toMatchObject({ type: 'Denied', reason: 'NodewardJoinDenied' });
    expect(c.message).toContain('join.proof_missing');
  }, 60_000);

  it('scenario 3: a stolen token with a TPM whose EK chains to no configured anchor is denied', async () => {
    const rogueCa = await createSwtpmCa(join(stack.dir, 'rogue-ca'));
    const sim = await machine('rogue-3', rogueCa);
    const denied = await join_(sim, 'worker-3').then(() => undefined, (e: unknown) => e);
    expect(denied).toBeInstanceOf(JoinDenied);
    expect((denied as Error).message).toContain('identity.ek_chain_untrusted');
  }, 120_000);

  it('scenario 4: a genuine attested TPM asking for another node\'s name (a control plane, a joined node) is denied', async () => {
    const sim = await machine('worker-4');
    for (const name of ['control-plane-1', 'worker-1', 'node-1']) {
      const denied = await join_(sim, name).then(() => undefined, (e: unknown) => e);
      expect(denied).toBeInstanceOf(JoinDenied);
      expect((denied as Error).message).toContain('join.name_bound_to_other_tpm');
    }
    // worker-1's own TPM asking for a new name: the TPM is bound to worker-1.
    const w1 = sims.find((s) => s.name === 'worker-1')!;
    const again = await join_(w1, 'worker-41').then(() => undefined, (e: unknown) => e);
    expect((again as Error).message).toContain('join.tpm_bound_to_other_node');
  }, 180_000);

  it('scenario 7: hostile CSRs are denied with a reason, with bounded work, while the fleet keeps being attested', async () => {
    const before = await lastAttestationTime(stack, 'node-1');
    const proof = (p: Partial<JoinProof>): Record<string, string> => ({ [JOIN_PROOF_ANNOTATION]: JSON.stringify({ joinRequest: 'none', secret: 'AAAA', quote: { quoted: '', signature: '', pcrs: {} }, ...p }) });
    const cases: [string, Promise<string>, string][] = [
      ['garbage proof', createCsr({ annotations: { [JOIN_PROOF_ANNOTATION]: '{not json' } }), 'join.proof_malformed'],
      ['oversized proof', createCsr({ annotations: { [JOIN_PROOF_ANNOTATION]: 'x'.repeat(200 * 1024) } }), 'join.proof_malformed'],
      ['proof naming no challenge', createCsr({ annotations: proof({}) }), 'join.request_not_found'],
      ['wrong usages', createCsr({ usages: ['client auth', 'server auth'] }), 'join.csr_usages'],
      ['system:masters', createCsr({ subject: 'CN=system:node:worker-7, O=system:masters' }), 'join.csr_subject'],
      ['wrong signer (serving, from a token)', createCsr({ signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] }), 'NodewardForeignRequester'],
    ];
    for (const [what, made, expected] of cases) {
      const c = await waitDecided(await made);
      expect({ what, type: c.type }).toEqual({ what, type: 'Denied' });
      expect(`${c.reason ?? ''} ${c.message ?? ''}`).toContain(expected);
    }

    // A CSR for another key than the one the proof binds: a real challenge, activated and quoted over key A, sent with key B.
    const sim = await machine('worker-8');
    const tpm = await openTpm(sim);
    try {
      const id = tpm.identity;
      const njr = JSON.parse(await token.kubectl(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify({
        apiVersion: 'attestation.nodeward.io/v1alpha1', kind: 'NodeJoinRequest', metadata: { generateName: 'worker-8-' },
        spec: { nodeName: 'worker-8', ekCertificates: id.ekCertificates, ekPublic: id.ekPublic, akPublic: id.akPublic },
      }) }).then((r) => r.stdout)) as { metadata: { name: string } };
      const status = await waitFor('the challenge', async () => {
        const s = (JSON.parse(await stack.kubectl(['get', 'nodejoinrequest', njr.metadata.name, '-o', 'json'])) as { status?: { phase?: string; credentialBlob: string; encryptedSecret: string; quotePcrs: number[] } }).status;
        return s?.phase === 'Challenged' ? s : undefined;
      }, 30_000, 100);
      const secret = await tpm.activate(Buffer.from(status.credentialBlob, 'base64'), Buffer.from(status.encryptedSecret, 'base64'));
      const keyA = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
      const keyB = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
      const spkiA = new Uint8Array(await webcrypto.subtle.exportKey('spki', keyA.publicKey));
      const quote = await tpm.quote(joinQuoteNonce(spkiA, secret), { sha256: status.quotePcrs });
      const eventLog = (await readFile(join(sim.hostRoot, EVENT_LOG))).toString('base64');
      const p: JoinProof = { joinRequest: njr.metadata.name, secret: secret.toString('base64'), quote, eventLog };
      const swapped = await waitDecided(await createCsr({ subject: 'CN=system:node:worker-8, O=system:nodes', keys: keyB, annotations: { [JOIN_PROOF_ANNOTATION]: JSON.stringify(p) } }));
      expect(swapped.type).toBe('Denied');
      expect(swapped.message).toContain('quote.nonce_mismatch');
    } finally {
      await tpm.close();
    }

    // A flood from one token: every CSR denied (reading no proof past the limit), none approved.
    const flood = await Promise.all(Array.from({ length: 20 }, () => createCsr({})));
    const decided = await Promise.all(flood.map(waitDecided));
    expect(decided.every((c) => c.type === 'Denied')).toBe(true);
    // The fleet kept being attested meanwhile.
    await waitFor('node-1 attested again', async () => (await lastAttestationTime(stack, 'node-1')) > before, 30_000);
    expect(await phaseOf(stack, 'node-1')).toBe('Trusted');
  }, 240_000);
});
