import { CoreV1Api } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyImaLog, type RuntimePolicyConfigMap } from '@nodeward/attest';
import { encodeImaNgEntry } from '@nodeward/attest/testing';
import { startHarness, type Harness } from '../../../e2e/src/harness/harness.js';
import { processIo, type CliIo } from '../../../cli/src/cli-io.js';
import { runCli } from '../../../cli/src/run-cli.js';
import { makeInformers, type Informers } from '../kube/informers.js';
import { silentLogger } from '../log.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { makeRoundContextProvider } from './round-context.js';

/**
 * A Keylime runtime policy of real size (200,000 files, keylime#1167) against the real API server:
 * as one ConfigMap it is refused; packed by `nodeward ima policy pack` (gzip, split under 1 MiB) it
 * is stored, and the operator's informers and round context join, decompress and compile it.
 */
const ENTRIES = 200_000;
const path = (i: number): string => `/usr/lib64/pkg-${i % 997}/lib${i}.so.${i % 7}`;
const digest = (i: number): string => createHash('sha256').update(`file ${i}`).digest('hex');

let h: Harness;
let informers: Informers | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nw-big-policy-'));
  h = await startHarness({ redis: false });
}, 120_000);
afterAll(async () => {
  await informers?.stop();
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(read: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function collectingIo(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), readFile: (p, max) => processIo.readFile(p, max) };
}

it(`a ${ENTRIES.toLocaleString('en')}-entry policy: refused as one ConfigMap, stored packed, compiled by the operator`, async () => {
  const digests: Record<string, string[]> = {};
  for (let i = 0; i < ENTRIES; i++) digests[path(i)] = [digest(i)];
  const text = JSON.stringify({ meta: { version: 1, generator: 0 }, release: 0, digests, excludes: [], keyrings: {}, ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null }, 'ima-buf': {}, 'verification-keys': '' });
  writeFileSync(join(dir, 'policy.json'), text);
  const core = h.kubeConfig.makeApiClient(CoreV1Api);

  // As one ConfigMap it is refused: the whole document is over the API server's request limit (it
  // answers 413 and closes the connection while the body is still being sent), and even 1.5 MiB of
  // it is over the ConfigMap limit of 1 MiB.
  const create = async (name: string, data: string): Promise<{ code?: number | string; body?: unknown } | undefined> =>
    core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { 'runtime-policy.json': data } } })
      .then(() => undefined, (e: { code?: number | string; body?: unknown }) => e);
  expect([413, 'ECONNRESET', 'EPIPE']).toContain((await create('ima-plain', text))?.code);
  const tooLong = await create('ima-plain-part', text.slice(0, 1.5 * 1024 * 1024));
  expect(tooLong?.code).toBe(422);
  expect(String(tooLong?.body)).toMatch(/Too long: may not be more than 1048576 bytes/);

  const io = collectingIo();
  expect(await runCli(['ima', 'policy', 'pack', '--policy', join(dir, 'policy.json'), '--name', 'ima-big', '--namespace', 'default'], io)).toBe(0);
  const items = (JSON.parse(io.lines.join('')) as { items: RuntimePolicyConfigMap[] }).items;
  expect(items.length).toBeGreaterThan(1);
  for (const body of items) await core.createNamespacedConfigMap({ namespace: 'default', body });

  informers = makeInformers(h.kubeConfig, () => undefined);
  await informers.start();
  await until(() => informers!.configMap('default', items.at(-1)!.metadata.name));
  const policy: NodeAttestationPolicy = { metadata: { name: 'p' }, spec: { nodeSelector: {}, interval: '10s', tpm: { hashAlg: 'sha256', pcrs: [10] },
    ima: { runtimePolicy: { configMapRef: { name: 'ima-big', namespace: 'default' }, key: 'runtime-policy.json' } } } };
  const na: NodeAttestation = { metadata: { name: 'n1' }, spec: { nodeName: 'n1', policyName: 'p' }, status: { identity: { ekCertificateFingerprint: 'e'.repeat(64), akName: '000b' + 'a'.repeat(64), akPublic: 'AAEC', agentAddress: '10.1.2.3' } } };
  const node: NodeView = { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.1.2.3' }] } };
  const cached = informers;
  const get = makeRoundContextProvider({ policies: () => [policy], nodeAttestations: () => [na], nodes: () => [node], configMap: (ns, name) => cached.configMap(ns, name) },
    { agentPort: 9443, defaultIntervalMs: 30_000, log: silentLogger });
  const compiled = get('n1')?.policy.ima;
  expect(compiled?.digests.size).toBe(ENTRIES);
  const listed = encodeImaNgEntry({ path: path(123_456), fileDigest: Buffer.from(digest(123_456), 'hex') });
  const unlisted = encodeImaNgEntry({ path: path(7), fileDigest: Buffer.from(digest(8), 'hex') });
  expect(verifyImaLog(listed.bytes, compiled!).failures).toEqual([]);
  expect(verifyImaLog(unlisted.bytes, compiled!).failures.map((f) => f.id)).toEqual(['ima.digest_not_allowed']);
}, 300_000);
