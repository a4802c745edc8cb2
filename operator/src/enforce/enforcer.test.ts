import { CredentialAuthority, credentialSecretName } from '../ca/credential-authority.js';
import { akNameOf, crlEntries } from '../ca/ca.js';
import { actionsFor } from '../decide/actions.js';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { silentLogger } from '../log.js';
import type { NodeAttestationPolicySpec } from '../status/resources.js';
import { Enforcer } from './enforcer.js';
import { KubeletQuarantine, QUARANTINE_CONFIGMAP } from './kubelet-quarantine.js';
import * as x509 from '@peculiar/x509';

const NS = 'nodeward-system';
const akName = '000b' + 'cd'.repeat(32);
const spec: Pick<NodeAttestationPolicySpec, 'mode' | 'onFailure' | 'onUnreachable'> = {
  mode: 'Enforce', onFailure: { taint: { effect: 'NoExecute' }, cordon: true, revokeCredentials: true },
};
const target = { nodeName: 'n1', attestationName: 'n1', akName, agentUrl: 'https://10.0.0.1:9443', failure: 'ima.digest_not_allowed: /tmp/x' };

/** The list as the informer would show it (after a restart, a fresh KubeletQuarantine starts from this). */
const quarantineList = (cluster: MemoryCluster): Record<string, string> | undefined => cluster.configMaps.get(`${NS}/${QUARANTINE_CONFIGMAP}`);
const quarantineOf = (cluster: MemoryCluster, cached = (): Record<string, string> | undefined => quarantineList(cluster)): KubeletQuarantine =>
  new KubeletQuarantine(cluster, { namespace: NS, cached: () => { const data = cached(); return data === undefined ? undefined : { metadata: { name: QUARANTINE_CONFIGMAP, resourceVersion: '0' }, data }; } });

async function setup(): Promise<{ cluster: MemoryCluster; ca: CredentialAuthority; enforcer: Enforcer; agent: { put: string[]; del: number; fail: boolean } }> {
  const cluster = new MemoryCluster();
  cluster.nodes.set('n1', { metadata: { name: 'n1', annotations: {} }, spec: { taints: [{ key: 'example.com/foreign', effect: 'NoSchedule' }] } });
  const ca = new CredentialAuthority(cluster, { namespace: NS, ttlMs: 3_600_000 });
  await ca.start();
  const agent = { put: [] as string[], del: 0, fail: false };
  const client = {
    putCredential: async (_u: string, r: { certificatePem: string }): Promise<void> => {
      if (agent.fail) throw new Error('ECONNREFUSED');
      agent.put.push(r.certificatePem);
      return Promise.resolve();
    },
    deleteCredential: async (): Promise<void> => {
      agent.del += 1;
      if (agent.fail) throw new Error('ECONNREFUSED');
      return Promise.resolve();
    },
  };
  return { cluster, ca, enforcer: new Enforcer(cluster, ca, client, silentLogger, { renewBeforeMs: 600_000, quarantine: quarantineOf(cluster) }), agent };
}
const reasons = (c: MemoryCluster): string[] => c.events.map((e) => e.reason);

describe('Enforcer', () => {
  it('is not settled while a credential delivery keeps failing, and settles once it is delivered', async () => {
    const { enforcer, agent } = await setup();
    const actions = actionsFor(spec, 'Trusted', {});
    agent.fail = true;
    expect((await enforcer.converge(target, actions)).map((a) => a.kind)).toEqual(['issue-credential']); // issued, not delivered
    expect(enforcer.isSettled('n1')).toBe(false);
    expect(await enforcer.converge(target, actions)).toEqual([]); // fresh credential, delivery fails again: nothing changed
    expect(enforcer.isSettled('n1')).toBe(false);
    agent.fail = false;
    expect((await enforcer.converge(target, actions)).map((a) => a.kind)).toEqual(['issue-credential']);
    expect([enforcer.isSettled('n1'), agent.put.length]).toEqual([true, 1]);
  });

  it('issues and delivers a credential to a Trusted node once, then converges to nothing', async () => {
    const { cluster, ca, enforcer, agent } = await setup();
    const actions = actionsFor(spec, 'Trusted', {});
    expect((await enforcer.converge(target, actions)).map((a) => a.kind)).toEqual(['issue-credential']);
    expect(await enforcer.converge(target, actions)).toEqual([]);
    expect(agent.put).toHaveLength(1);
    const cert = new x509.X509Certificate(agent.put[0]!);
    expect(akNameOf(cert)).toBe(akName);
    expect((await ca.current('n1'))?.delivered).toBe(true);
    expect(cluster.nodes.get('n1')!.spec!.taints).toEqual([{ key: 'example.com/foreign', effect: 'NoSchedule' }]);
  });

  it('retries delivery when the agent was unreachable at issue time', async () => {
    const { enforcer, agent, ca } = await setup();
    agent.fail = true;
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    expect((await ca.current('n1'))?.delivered).toBe(false);
    const serial = (await ca.current('n1'))!.serial;
    agent.fail = false;
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    expect(agent.put).toHaveLength(1);
    expect((await ca.current('n1'))).toMatchObject({ delivered: true, serial });
  });

  it('enforces an Untrusted node: taint, cordon, revoke, each Event exactly once', async () => {
    const { cluster, ca, enforcer, agent } = await setup();
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    const serial = (await ca.current('n1'))!.serial;
    const bad = actionsFor(spec, 'Untrusted', { tainted: true, cordoned: true, credentialsRevoked: true });
    await enforcer.converge(target, bad);
    await enforcer.converge(target, bad);
    expect(reasons(cluster)).toEqual(['KubeletIdentityQuarantined', 'NodeTainted', 'NodeCordoned', 'CredentialsRevoked']);
    expect(cluster.events.every((e) => e.involved.map((i) => i.kind).join() === 'Node,NodeAttestation')).toBe(true);
    expect(quarantineList(cluster)).toEqual({ n1: 'ima.digest_not_allowed: /tmp/x' });
    const node = cluster.nodes.get('n1')!;
    expect(node.spec!.taints!.map((t) => t.key)).toEqual(['example.com/foreign', 'attestation.nodeward.io/untrusted']);
    expect(node.spec!.unschedulable).toBe(true);
    expect(cluster.secrets.has(`${NS}/${credentialSecretName('n1')}`)).toBe(false);
    expect(crlEntries(ca.crlPem()!).map((e) => e.serial)).toEqual([serial]);
    expect(agent.del).toBe(1);

    // Recovery lifts everything and issues a NEW credential.
    const changed = await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    expect(changed.map((a) => `${a.kind}:${'op' in a ? a.op : ''}`)).toEqual(['quarantine:lift', 'taint:lift', 'cordon:lift', 'issue-credential:']);
    expect(quarantineList(cluster)).toEqual({});
    expect(cluster.events.at(-1)).toMatchObject({ type: 'Normal', reason: 'KubeletIdentityRestored' });
    expect(cluster.nodes.get('n1')!.spec!.taints!.map((t) => t.key)).toEqual(['example.com/foreign']);
    expect(cluster.nodes.get('n1')!.spec!.unschedulable).toBe(false);
    expect((await ca.current('n1'))!.serial).not.toBe(serial);
  });

  it('finishes the job exactly once after a crash between CRL publication and Secret deletion', async () => {
    const { cluster, ca, enforcer } = await setup();
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    const bad = actionsFor(spec, 'Untrusted', { tainted: true, cordoned: false, credentialsRevoked: true });
    cluster.failNext('deleteSecret', new Error('SIGKILL'));
    await expect(enforcer.converge(target, bad)).rejects.toThrow('SIGKILL');
    // Announced before the revocation, so the crash does not lose it; the restart's repeat is the same Event.
    expect(reasons(cluster)).toEqual(['KubeletIdentityQuarantined', 'NodeTainted', 'CredentialsRevoked']);
    // Restart: a fresh authority loads the published CRL, the enforcer re-runs the same actions.
    const ca2 = new CredentialAuthority(cluster, { namespace: NS, ttlMs: 3_600_000 });
    await ca2.start();
    const enforcer2 = new Enforcer(cluster, ca2, { putCredential: async () => Promise.resolve(), deleteCredential: async () => Promise.resolve() }, silentLogger, { renewBeforeMs: 0, quarantine: quarantineOf(cluster) });
    await enforcer2.converge(target, bad);
    await enforcer2.converge(target, bad);
    expect(reasons(cluster)).toEqual(['KubeletIdentityQuarantined', 'NodeTainted', 'CredentialsRevoked']);
    expect(crlEntries(ca2.crlPem()!)).toHaveLength(1);
    expect(ca2.crlPem()).toBe(ca.crlPem());
  });

  it('revocation with an unreachable agent still revokes', async () => {
    const { cluster, ca, enforcer, agent } = await setup();
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    agent.fail = true;
    await enforcer.converge(target, actionsFor(spec, 'Untrusted', { credentialsRevoked: true }));
    expect(reasons(cluster)).toEqual(['KubeletIdentityQuarantined', 'CredentialsRevoked']);
    expect(crlEntries(ca.crlPem()!)).toHaveLength(1);
  });

  it('taints and cordons in one Node write, and lifts both in one', async () => {
    const { cluster, enforcer } = await setup();
    const writes = (): number => cluster.writes.filter((w) => w === 'update node/n1').length;
    await enforcer.converge(target, actionsFor(spec, 'Untrusted', { tainted: true, cordoned: true }));
    expect(writes()).toBe(1);
    expect(cluster.nodes.get('n1')!.spec).toMatchObject({ unschedulable: true, taints: [{ key: 'example.com/foreign' }, { key: 'attestation.nodeward.io/untrusted', effect: 'NoExecute' }] });
    expect(reasons(cluster)).toEqual(['NodeTainted', 'NodeCordoned']);
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    expect(writes()).toBe(2);
    expect(cluster.nodes.get('n1')!.spec).toMatchObject({ unschedulable: false, taints: [{ key: 'example.com/foreign' }] });
    expect(cluster.nodes.get('n1')!.metadata.annotations).toEqual({});
  });

  it('runs concurrent convergences of one node one after another: a round and a reconcile issue one credential', async () => {
    const { cluster, enforcer, agent } = await setup();
    const trusted = actionsFor(spec, 'Trusted', {});
    const [a, b] = await Promise.all([enforcer.converge(target, trusted), enforcer.converge(target, trusted)]);
    expect([...a, ...b].map((x) => x.kind)).toEqual(['issue-credential']);
    expect(agent.put).toHaveLength(1);
    expect(cluster.writes.filter((w) => w.includes(credentialSecretName('n1')))).toHaveLength(2);
  });

  it('never uncordons an administrator cordon', async () => {
    const { cluster, enforcer } = await setup();
    cluster.nodes.get('n1')!.spec!.unschedulable = true;
    await enforcer.converge(target, actionsFor(spec, 'Untrusted', { cordoned: true }));
    await enforcer.converge(target, actionsFor(spec, 'Trusted', {}));
    expect(cluster.nodes.get('n1')!.spec!.unschedulable).toBe(true);
    expect(reasons(cluster)).toEqual([]);
  });

  it('quarantines naming the failure, renames it when the failure changes, and lifts even before the informer shows the apply', async () => {
    const cluster = new MemoryCluster();
    const q = quarantineOf(cluster, () => undefined); // an informer that never catches up
    expect(await q.apply('n1', 'quote.nonce_mismatch')).toBe(true);
    expect(await q.apply('n1', 'quote.nonce_mismatch')).toBe(false);
    expect(await q.apply('n2', 'bootlog.secure_boot_disabled')).toBe(true);
    expect(await q.apply('n1', 'ima.digest_not_allowed: /tmp/x')).toBe(true);
    expect(quarantineList(cluster)).toEqual({ n1: 'ima.digest_not_allowed: /tmp/x', n2: 'bootlog.secure_boot_disabled' });
    expect(await q.lift('n1')).toBe(true);
    expect(await q.lift('n1')).toBe(false);
    expect(await q.lift('n3')).toBe(false);
    expect(quarantineList(cluster)).toEqual({ n2: 'bootlog.secure_boot_disabled' });
    expect(cluster.writes.filter((w) => w.startsWith('patch configmap/'))).toHaveLength(4);
  });

  it('a failed quarantine write is retried by the next convergence, before the node edit', async () => {
    const { cluster, enforcer } = await setup();
    const bad = actionsFor(spec, 'Untrusted', { tainted: true, cordoned: true, credentialsRevoked: true });
    cluster.failNext('mergeConfigMapData', new Error('etcdserver: request timed out'));
    await expect(enforcer.converge(target, bad)).rejects.toThrow('timed out');
    expect(cluster.nodes.get('n1')!.spec!.unschedulable).toBeUndefined();
    await enforcer.converge(target, bad);
    expect(quarantineList(cluster)).toEqual({ n1: 'ima.digest_not_allowed: /tmp/x' });
  });
});
