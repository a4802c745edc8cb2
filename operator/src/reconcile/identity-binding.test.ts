import type { IdentityResponse } from '@nodeward/attest';
import { AgentError } from '../agent-client/agent-error.js';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { silentLogger } from '../log.js';
import type { AttestationTarget, RoundScheduler } from '../ports.js';
import { IdentityClaims, claimNames, decideClaim } from '../registration/identity-claims.js';
import type { TpmChecks } from '../registration/register-identity.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { makeNodeReconciler } from './node-reconciler.js';

/**
 * One TPM, one node: the EK/AK claim, the agent that serves another node, and a Node whose address
 * moves. The agent is faked per address (what answers at each InternalIP); the claims are real
 * (IdentityClaims over the in-memory cluster's create-if-absent Secrets).
 */
const NS = 'nodeward-system';
const tpmOf = (n: number): IdentityResponse => ({
  ekCertificates: [{ keyType: 'rsa', der: Buffer.from(`ek-${n}`).toString('base64') }], ekPublic: 'AA==',
  akPublic: Buffer.from([n]).toString('base64'), akName: '000b' + String(n).repeat(64).slice(0, 64), tpm: { manufacturer: 'x', firmwareVersion: '1' },
});
const fingerprintOf = (der: Uint8Array): string => Buffer.from(der).toString('hex').padEnd(64, '0').slice(0, 64);

function setup(atAddress: Map<string, { tpm: IdentityResponse; serves?: string }>, nodes: NodeView[]): {
  cluster: MemoryCluster; run: (k: string) => Promise<unknown>; schedule: Map<string, AttestationTarget>;
} {
  const cluster = new MemoryCluster();
  const schedule = new Map<string, AttestationTarget>();
  const scheduler: RoundScheduler = {
    ensure: (t) => Promise.resolve(void schedule.set(t.nodeName, t)), remove: (n) => Promise.resolve(void schedule.delete(n)), list: async () => Promise.resolve([...schedule.keys()]),
  };
  let secret: Buffer = Buffer.alloc(0);
  const tpm = {
    verifyEkCertificate: async ({ ekCertDer }: { ekCertDer: Uint8Array }) => Promise.resolve({ ok: true, failures: [], fingerprintSha256: fingerprintOf(ekCertDer) }),
    verifyAkAttributes: () => [], akNameOf: (pub: Uint8Array) => Buffer.from('000b' + String(pub[0]).repeat(64).slice(0, 64), 'hex'),
    makeCredential: ({ secret: s }: { secret: Buffer }) => { secret = s; return { credentialBlob: Buffer.from('b'), encryptedSecret: Buffer.from('e') }; },
  } as unknown as TpmChecks;
  const agentAt = (url: string): { tpm: IdentityResponse; serves?: string } => {
    const u = new URL(url);
    const a = atAddress.get(u.hostname);
    if (a === undefined) throw new AgentError('unreachable', `nothing at ${u.hostname}`);
    if (a.serves !== undefined && a.serves !== u.username) throw new AgentError('wrong_node', `the agent's serving certificate names ${a.serves}, not node ${u.username}`);
    return a;
  };
  const run = makeNodeReconciler({
    cluster, scheduler, heartbeatMs: 300_000, log: silentLogger, plan: { agentPort: 9443, defaultIntervalMs: 30_000 },
    caches: { policies: () => [policy], nodes: () => nodes, nodeAttestations: () => [...cluster.attestations.values()] as NodeAttestation[], configMap: () => ({ metadata: { name: 'a' }, data: { 'ca.pem': 'PEM' } }) },
    claims: new IdentityClaims(cluster, NS),
    registration: {
      tpm,
      agent: {
        identity: async (url) => Promise.resolve(agentAt(url).tpm),
        activate: async (url) => Promise.resolve({ secret: (agentAt(url), secret).toString('base64') }),
      },
    },
    enforce: () => Promise.resolve(),
  });
  return { cluster, run, schedule };
}
const policy: NodeAttestationPolicy = {
  metadata: { name: 'p', uid: 'uid-p', generation: 1 },
  spec: { nodeSelector: { matchLabels: { r: 'w' } }, tpm: { pcrs: [0], ekTrustAnchors: { configMapRef: { name: 'a', namespace: 'b' } } }, onFailure: { taint: { effect: 'NoSchedule' } } },
};
const node = (n: string, ip: string): NodeView => ({ metadata: { name: n, labels: { r: 'w' } }, status: { addresses: [{ type: 'InternalIP', address: ip }] } });

/** Runs the node's reconciles until it has registered or refused (create NodeAttestation, then register). */
async function settle(run: (k: string) => Promise<unknown>, n: string): Promise<void> {
  for (let i = 0; i < 3; i++) await run(n);
}

describe('decideClaim', () => {
  it.each([
    ['n1', 'n1', true, 'ours'],
    ['n1', 'n1', false, 'ours'],
    ['n2', 'rogue', true, 'taken'],
    ['gone', 'n3', false, 'stale'],
  ] as const)('held by %s, claimed by %s, holder attested %s: %s', (holder, claimant, attested, want) => {
    expect(decideClaim(holder, claimant, attested)).toBe(want);
  });

  it('names one claim for the EK and one for the AK, valid Secret names', () => {
    const names = claimNames({ ekCertificateFingerprint: 'ab'.repeat(32), akName: '000B' + 'cd'.repeat(32) });
    expect(names).toEqual([`nodeward-claim-ek-${'ab'.repeat(32)}`, `nodeward-claim-ak-000b${'cd'.repeat(32)}`]);
    for (const n of names) expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});

describe('identity binding (reconciler)', () => {
  it('a second Node with a registered node\'s TPM (its address) is an identity failure, never registered or scheduled', async () => {
    const nodes = [node('node-2', '10.0.0.2')];
    const { cluster, run, schedule } = setup(new Map([['10.0.0.2', { tpm: tpmOf(2) }]]), nodes);
    await settle(run, 'node-2');
    expect(cluster.attestations.get('node-2')!.status?.identity?.agentAddress).toBe('10.0.0.2');
    nodes.push(node('rogue', '10.0.0.2'));
    await settle(run, 'rogue');
    const rogue = cluster.attestations.get('rogue')!;
    expect(rogue.status?.identity).toBeUndefined();
    expect(rogue.status?.phase).toBe('Pending');
    expect(rogue.status?.lastFailure?.reason).toBe('identity.ek_claimed_by_other_node');
    expect(schedule.has('rogue')).toBe(false);
    const ev = cluster.events.find((e) => e.reason === 'IdentityRefused')!;
    expect(ev.type).toBe('Warning');
    expect(ev.involved.map((i) => `${i.kind}/${i.name}`)).toEqual(['Node/rogue', 'NodeAttestation/rogue', 'Node/node-2']);
    expect(ev.message).toContain('node-2');
    // Retried registrations post the Event once.
    await run('rogue');
    expect(cluster.events.filter((e) => e.reason === 'IdentityRefused')).toHaveLength(1);
    expect(cluster.attestations.get('node-2')!.status?.identity?.akName).toBe(tpmOf(2).akName);
  });

  it('two Nodes racing for one TPM: exactly one wins', async () => {
    const nodes = [node('a', '10.0.0.7'), node('b', '10.0.0.7')];
    const { cluster, run } = setup(new Map([['10.0.0.7', { tpm: tpmOf(7) }]]), nodes);
    await Promise.all([run('a'), run('b')]);
    await Promise.all([run('a'), run('b')]);
    const registered = ['a', 'b'].filter((n) => cluster.attestations.get(n)?.status?.identity !== undefined);
    expect(registered).toHaveLength(1);
  });

  it('an agent proving it serves another node is identity.agent_serves_other_node', async () => {
    const { cluster, run } = setup(new Map([['10.0.0.2', { tpm: tpmOf(2), serves: 'node-2' }]]), [node('rogue', '10.0.0.2')]);
    await settle(run, 'rogue');
    expect(cluster.attestations.get('rogue')!.status?.lastFailure?.reason).toBe('identity.agent_serves_other_node');
    expect(cluster.attestations.get('rogue')!.status?.identity).toBeUndefined();
  });

  it('a Node moved to another registered node\'s address is Untrusted with an identity failure, and unscheduled', async () => {
    const nodes = [node('node-1', '10.0.0.1'), node('node-2', '10.0.0.2')];
    const { cluster, run, schedule } = setup(new Map([['10.0.0.1', { tpm: tpmOf(1) }], ['10.0.0.2', { tpm: tpmOf(2) }]]), nodes);
    await settle(run, 'node-1');
    await settle(run, 'node-2');
    expect(schedule.has('node-1')).toBe(true);
    nodes[0] = node('node-1', '10.0.0.2');
    await run('node-1');
    const na = cluster.attestations.get('node-1')!;
    expect(na.status?.phase).toBe('Untrusted');
    expect(na.status?.lastFailure?.reason).toBe('identity.address_serves_other_node');
    expect(na.status?.identity?.agentAddress).toBe('10.0.0.1');
    expect(schedule.has('node-1')).toBe(false);
    expect(cluster.events.some((e) => e.reason === 'IdentityRefused' && e.involved.some((i) => i.name === 'node-2'))).toBe(true);
  });

  it('a Node moved to an address holding its own TPM is re-verified there and scheduled again', async () => {
    const nodes = [node('node-1', '10.0.0.1')];
    const at = new Map([['10.0.0.1', { tpm: tpmOf(1) }]]);
    const { cluster, run, schedule } = setup(at, nodes);
    await settle(run, 'node-1');
    at.set('10.0.0.5', { tpm: tpmOf(1) });
    nodes[0] = node('node-1', '10.0.0.5');
    await settle(run, 'node-1');
    expect(cluster.attestations.get('node-1')!.status?.identity?.agentAddress).toBe('10.0.0.5');
    expect(cluster.attestations.get('node-1')!.status?.lastFailure).toBeUndefined();
    expect(schedule.get('node-1')?.agentUrl).toBe('https://node-1@10.0.0.5:9443');
  });

  it('a Node moved to an address where nothing answers is not kept Trusted: each interval is a miss, then Unreachable', async () => {
    const nodes = [node('node-1', '10.0.0.1')];
    const { cluster, run, schedule } = setup(new Map([['10.0.0.1', { tpm: tpmOf(1) }]]), nodes);
    await settle(run, 'node-1');
    cluster.attestations.get('node-1')!.status!.phase = 'Trusted';
    nodes[0] = node('node-1', '10.0.0.66');
    expect(await run('node-1')).toEqual({ requeueAfterMs: 30_000 });
    expect(schedule.has('node-1')).toBe(false);
    expect(cluster.attestations.get('node-1')!.status?.consecutiveMisses).toBe(1);
    await run('node-1');
    await run('node-1');
    expect(cluster.attestations.get('node-1')!.status?.phase).toBe('Unreachable');
    expect(cluster.attestations.get('node-1')!.status?.lastFailure?.reason).toBe('agent.unreachable');
  });

  it('a Node moved to an unknown TPM is identity.changed_at_new_address', async () => {
    const nodes = [node('node-1', '10.0.0.1')];
    const { cluster, run } = setup(new Map([['10.0.0.1', { tpm: tpmOf(1) }], ['10.0.0.9', { tpm: tpmOf(9) }]]), nodes);
    await settle(run, 'node-1');
    nodes[0] = node('node-1', '10.0.0.9');
    await run('node-1');
    expect(cluster.attestations.get('node-1')!.status?.lastFailure?.reason).toBe('identity.changed_at_new_address');
    expect(cluster.attestations.get('node-1')!.status?.identity?.akName).toBe(tpmOf(1).akName);
  });

  it('releases the claim when the NodeAttestation is gone, so the TPM can serve a re-provisioned node', async () => {
    const nodes = [node('old', '10.0.0.3')];
    const { cluster, run } = setup(new Map([['10.0.0.3', { tpm: tpmOf(3) }]]), nodes);
    await settle(run, 'old');
    expect([...cluster.secrets.keys()].filter((k) => k.includes('claim'))).toHaveLength(2);
    nodes.length = 0;
    await run('old');
    expect(cluster.attestations.has('old')).toBe(false);
    expect([...cluster.secrets.keys()].filter((k) => k.includes('claim'))).toHaveLength(0);
    nodes.push(node('new', '10.0.0.3'));
    await settle(run, 'new');
    expect(cluster.attestations.get('new')!.status?.identity?.akName).toBe(tpmOf(3).akName);
  });

  it('drops only the claims an identity change gave up', async () => {
    const cluster = new MemoryCluster();
    const claims = new IdentityClaims(cluster, NS);
    const old = { ekCertificateFingerprint: 'e'.repeat(64), akName: '000b' + 'a'.repeat(64) };
    const next = { ...old, akName: '000b' + 'b'.repeat(64) };
    await claims.claim('n1', old);
    await claims.claim('n1', next);
    await claims.drop('n1', old, next);
    expect([...cluster.secrets.keys()].map((k) => k.split('/')[1]).sort()).toEqual(claimNames(next).sort());
  });

  it('takes over a stale claim (its holder\'s NodeAttestation is gone) but never a live one', async () => {
    const cluster = new MemoryCluster();
    const claims = new IdentityClaims(cluster, NS);
    const id = { ekCertificateFingerprint: 'e'.repeat(64), akName: '000b' + 'a'.repeat(64) };
    expect(await claims.claim('gone', id)).toEqual({ ok: true });
    expect(await claims.claim('n2', id)).toEqual({ ok: true });
    await cluster.applyNodeAttestation({ name: 'n2', nodeName: 'n2', policyName: 'p', ownerReference: { apiVersion: 'v', kind: 'k', name: 'p', uid: 'u' }, shard: '30000:7' });
    expect(await claims.claim('rogue', id)).toEqual({ ok: false, holder: 'n2' });
    await claims.release('n2', id);
    expect(await claims.otherHolder('rogue', id)).toBe('n2');
  });
});
