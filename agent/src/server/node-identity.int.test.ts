import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Agent, Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMtlsPki, type MtlsPki } from '@nodeward/e2e/sim';
import { agentHttpsAgent, agentRequest } from '../agent-client.js';
import type { ImaLogIndex } from '../evidence/ima-log-index.js';
import { createLogger } from '../log.js';
import type { AgentTpm } from '../tpm/agent-tpm.js';
import { createAgentServer, dnsNamesOf } from './agent-server.js';
import { CREDENTIAL_FILES } from './credential-store.js';
import { AgentMetrics } from './metrics.js';

/**
 * The agent knows which node it serves: a request the operator makes for another node is refused
 * (421), and a credential for another node is never stored (it would replace this node's). Real TLS
 * on loopback with the test PKI; the TPM is not touched by these requests (a stand-in).
 */
describe('agent node identity', () => {
  let dir: string;
  let pki: MtlsPki;
  let server: Server;
  let url: string;
  let client: Agent;
  const identity = { ekCertificates: [], ekPublic: 'AA==', akPublic: 'AA==', akName: '000b' + 'ab'.repeat(32), tpm: { manufacturer: 'x', firmwareVersion: '1' } };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-agent-node-'));
    pki = await createMtlsPki(join(dir, 'pki'));
    const serving = await pki.agentServerCert('127.0.0.1', 'node-2');
    server = createAgentServer({
      tpm: { identity } as unknown as AgentTpm, ima: {} as ImaLogIndex, eventLogPath: join(dir, 'none'), verity: { kind: 'dmsetup' },
      credentialDir: join(dir, 'credential'), operatorIdentity: 'nodeward-operator', nodeName: 'node-2', maxBodyBytes: 64 << 10,
      keepAliveTimeoutMs: 5000, tls: { ...serving, clientCaPem: pki.operatorCa.certPem }, log: createLogger({ write: () => undefined }), metrics: new AgentMetrics(),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...pki.operatorClient });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((r) => { server.closeAllConnections(); server.close(r); });
    await rm(dir, { recursive: true, force: true });
  });

  const credentialFor = async (node: string): Promise<{ certificatePem: string; privateKeyPem: string; caPem: string }> => {
    const c = await pki.agentCa.issue({ cn: node, usage: 'client', sans: [node] });
    return { certificatePem: c.certPem, privateKeyPem: c.keyPem, caPem: pki.agentCa.certPem };
  };

  it('answers requests for its own node', async () => {
    const r = await agentRequest(url, { path: '/v1/identity', agent: client, node: 'node-2' });
    expect(r.status).toBe(200);
  });

  it.each([['rogue'], [undefined]])('refuses a request for node %s with 421 identity.wrong_node', async (node) => {
    const r = await agentRequest(url, { path: '/v1/identity', agent: client, ...(node === undefined ? {} : { node }) });
    expect([r.status, (r.json as { error: { code: string } }).error.code]).toEqual([421, 'identity.wrong_node']);
  });

  it('stores a credential naming its node, and refuses one for another node (node-2\'s is unchanged)', async () => {
    const own = await credentialFor('node-2');
    expect((await agentRequest(url, { method: 'PUT', path: '/v1/credential', body: own, agent: client, node: 'node-2' })).status).toBe(204);
    const onDisk = join(dir, 'credential', CREDENTIAL_FILES.certificatePem);
    expect(await readFile(onDisk, 'utf8')).toBe(own.certificatePem);

    // Even if the operator were fooled into sending rogue's credential to node-2's agent under node-2's name.
    const rogue = await credentialFor('rogue');
    const r = await agentRequest(url, { method: 'PUT', path: '/v1/credential', body: rogue, agent: client, node: 'node-2' });
    expect([r.status, (r.json as { error: { code: string } }).error.code]).toEqual([403, 'credential.wrong_node']);
    // And as the operator sends it for rogue.
    expect((await agentRequest(url, { method: 'PUT', path: '/v1/credential', body: rogue, agent: client, node: 'rogue' })).status).toBe(421);
    expect((await agentRequest(url, { method: 'DELETE', path: '/v1/credential', agent: client, node: 'rogue' })).status).toBe(421);
    expect(await readFile(onDisk, 'utf8')).toBe(own.certificatePem);
  });

  it('reads DNS names from a certificate\'s subjectAltName', async () => {
    expect(dnsNamesOf(new X509Certificate((await credentialFor('node-9')).certificatePem))).toEqual(['node-9']);
  });
});
