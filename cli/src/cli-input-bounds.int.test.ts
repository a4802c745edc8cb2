import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeImaNgEntry } from '@nodeward/attest/testing';

/**
 * The real CLI (bin/nodeward.js over cli/dist: `npm run build` first) given hostile inputs: each must
 * end within TIMEOUT_MS with exit 2 and one line naming the input, without reading it all.
 */
const TIMEOUT_MS = 10_000;
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/nodeward.js');
const dir = mkdtempSync(path.join(tmpdir(), 'nodeward-cli-bounds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run { code: number | null; stderr: string; ms: number; killed: boolean }

function nodeward(args: string[]): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.trim(), ms: Date.now() - t0, killed: signal === 'SIGKILL' });
    });
  });
}

const file = (name: string, bytes: Uint8Array | string = ''): string => {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const log = file('ima.bin', encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: Buffer.alloc(32, 1) }).bytes);
const policy = file('policy.json', JSON.stringify({ meta: { version: 1 }, release: 0, digests: {}, excludes: [], keyrings: {},
  ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null }, 'ima-buf': {}, 'verification-keys': '' }));
const fifo = path.join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
// 100 MiB, sparse: costs no disk.
const hugeKey = file('huge-key.pem');
truncateSync(hugeKey, 100 * 1024 * 1024);

it.each([
  ['/dev/zero as the IMA log', ['ima', 'verify', '--log', '/dev/zero', '--policy', policy], /\/dev\/zero: a character device, not a regular file$/],
  ['a FIFO nobody writes as the IMA log', ['ima', 'policy', 'create', '--log', fifo], /fifo: a FIFO, not a regular file$/],
  ['/dev/zero as the event log', ['eventlog', '/dev/zero'], /a character device, not a regular file$/],
  ['a FIFO as the runtime policy', ['ima', 'verify', '--log', log, '--policy', fifo], /a FIFO, not a regular file$/],
  ['a 100 MiB --verification-key', ['ima', 'policy', 'create', '--log', log, '--verification-key', hugeKey], /huge-key\.pem: larger than 1048576 bytes, the limit for this input$/],
  ['a 100 MiB quote message', ['verify-quote', '--ak-pub', hugeKey, '--message', hugeKey, '--signature', hugeKey, '--pcrs', hugeKey, '--nonce', 'aa'], /larger than 1048576 bytes/],
  ['an empty IMA log', ['ima', 'verify', '--log', file('empty.bin'), '--policy', policy], /empty IMA log .*: no measurement entries$/],
])('refuses %s with exit 2 and one line, at once', async (_what, args, message) => {
  const r = await nodeward(args);
  expect({ code: r.code, killed: r.killed }).toEqual({ code: 2, killed: false });
  expect(r.stderr.split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(r.ms).toBeLessThan(TIMEOUT_MS);
}, TIMEOUT_MS + 5_000);

it('still reads an ordinary log and policy (exit 1: the entry is not in the empty policy)', async () => {
  const r = await nodeward(['ima', 'verify', '--log', log, '--policy', policy]);
  expect(r.code).toBe(1);
}, TIMEOUT_MS + 5_000);
