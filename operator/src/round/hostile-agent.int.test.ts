import { spawn } from 'node:child_process';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpensslPki, type PemPair } from '../agent-client/testing/openssl-pki.js';

/**
 * Hostile agents on loopback (each serves a valid certificate for its address, so mTLS passes) that
 * answer a round with a 50 MB IMA list, streamed without a Content-Length. The operator side runs in
 * a child process (operator/dist, so `npm run build` first) so that its RSS high-water mark is its
 * own: three such rounds at once must end as `ima.log_too_large` failures (not `unreachable`) and
 * grow the operator's peak RSS by less than MAX_GROWTH_MB.
 */
const HOSTILE_BYTES = 50 * 1024 * 1024;
const NODES = 3;
/** Three rounds at once, each reading at most the 16 MiB log cap before it gives up. */
const MAX_GROWTH_MB = 96;

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');
const pki = new OpensslPki();
let ca: PemPair;
let operator: PemPair;
const servers: https.Server[] = [];
const sent: number[] = [];

beforeAll(() => {
  ca = pki.ca('agent-ca');
  operator = pki.leaf('operator', 'agent-ca', [], 'clientAuth');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
  pki.cleanup();
});

/** Answers POST /v1/round with a quote and an IMA list of `HOSTILE_BYTES` of base64, in 64 KiB writes. */
async function hostileAgent(serving: PemPair): Promise<string> {
  const chunk = Buffer.alloc(64 * 1024, 'A');
  const index = sent.push(0) - 1;
  const server = https.createServer({ ...serving, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`{"quote":{"quoted":"AQID","signature":"BAU=","pcrs":{}},"ima":{"from":0,"total":1,"entries":"`);
    const pump = (): void => {
      while (sent[index]! < HOSTILE_BYTES) {
        sent[index]! += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end('"}}');
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The operator's client and runRound in a fresh process: outcomes and peak RSS before and after. */
const CHILD = `
await import('reflect-metadata');
const { HttpsAgentClient } = await import(process.env.DIST + '/agent-client/https-agent-client.js');
const { runRound } = await import(process.env.DIST + '/round/run-round.js');
const { createRoundMetrics } = await import(process.env.DIST + '/round/round-metrics.js');
const { Registry } = await import('prom-client');
const t = JSON.parse(process.env.TARGETS);
const client = new HttpsAgentClient({ cert: t.cert, key: t.key, ca: t.ca });
const store = { get: async () => undefined, put: async () => {}, delete: async () => {} };
const ctx = (url, i) => ({ target: { nodeName: 'n' + i, policyName: 'p', agentUrl: url, intervalMs: 1000 },
  policy: { akPublic: Buffer.alloc(0), pcrSelection: { sha256: [10] }, ima: {} }, akName: '00', ekFingerprint: '' });
globalThis.gc();
const before = process.resourceUsage().maxRSS;
const outcomes = await Promise.all(t.urls.map((url, i) => runRound('n' + i, {
  context: () => ctx(url, i), agent: client, store, metrics: createRoundMetrics(new Registry()) })));
const after = process.resourceUsage().maxRSS;
client.close();
process.stdout.write(JSON.stringify({ before, after, outcomes: outcomes.map((o) => o.kind === 'verdict'
  ? { kind: o.kind, trusted: o.verdict.trusted, ids: o.verdict.failures.map((f) => f.id) } : { kind: o.kind, error: o.error }) }));
`;

interface ChildResult { before: number; after: number; outcomes: { kind: string; trusted?: boolean; ids?: string[]; error?: string }[] }

function runChild(urls: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], {
      cwd: path.resolve(dist, '..'),
      env: { ...process.env, DIST: dist, TARGETS: JSON.stringify({ urls, cert: operator.cert, key: operator.key, ca: ca.cert }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

it(`fails rounds whose agents send ${HOSTILE_BYTES / 2 ** 20} MiB IMA lists as ima.log_too_large, with the operator's peak RSS growing < ${MAX_GROWTH_MB} MiB`, async () => {
  const serving = pki.leaf('agent', 'agent-ca', ['127.0.0.1'], 'serverAuth');
  const urls = await Promise.all(Array.from({ length: NODES }, () => hostileAgent(serving)));
  const r = await runChild(urls);
  const growthMb = (r.after - r.before) / 1024;
  process.stdout.write(`operator peak RSS ${Math.round(r.before / 1024)} -> ${Math.round(r.after / 1024)} MiB (+${growthMb.toFixed(1)}) for ${NODES} hostile rounds; sent ${sent.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB\n`);
  expect(growthMb).toBeLessThan(MAX_GROWTH_MB);
  expect(r.outcomes).toEqual(Array.from({ length: NODES }, () => ({ kind: 'verdict', trusted: false, ids: ['ima.log_too_large'] })));
  // The agents were cut off: none got to send its whole list.
  expect(sent.every((b) => b < HOSTILE_BYTES)).toBe(true);
}, 60_000);
