import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { encodeImaNgEntry } from '@nodeward/attest';
import { CliUsageError, type CliIo } from '../cli-io.js';
import { runCli } from '../run-cli.js';
import { imaPolicyCreate, imaVerify } from './ima.js';

let dir: string;
const fd = (s: string): Buffer => createHash('sha256').update(s).digest();

function fakeIo(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    readFile: (p) => {
      try {
        return readFileSync(join(dir, p));
      } catch {
        throw new CliUsageError(`cannot read ${p}: ENOENT`);
      }
    },
  };
}

const good = [
  encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: fd('boot') }),
  encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: fd('bash') }),
];
const pcr10 = (alg: 'sha1' | 'sha256'): string =>
  good.reduce((pcr, e) => createHash(alg).update(pcr).update(createHash(alg).update(e.hashInput).digest()).digest(), Buffer.alloc(alg === 'sha1' ? 20 : 32)).toString('hex');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nodeward-ima-'));
  writeFileSync(join(dir, 'good.bin'), Buffer.concat(good.map((e) => e.bytes)));
  writeFileSync(join(dir, 'good.txt'), good.map((e, i) => `10 ${e.templateHash.toString('hex')} ima-ng sha256:${fd(i === 0 ? 'boot' : 'bash').toString('hex')} ${i === 0 ? 'boot_aggregate' : '/usr/bin/bash'}\n`).join(''));
  writeFileSync(join(dir, 'bad.bin'), Buffer.concat([good[0]!.bytes, encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: fd('evil') }).bytes,
    encodeImaNgEntry({ path: '/opt/x', fileDigest: fd('x') }).bytes]));
  writeFileSync(join(dir, 'garbage.bin'), Buffer.from([10, 0, 0, 0, 1, 2, 3]));
  writeFileSync(join(dir, 'bad-policy.json'), '{"meta":{"version":1},"digests":{"/a":["zz"]}}');
  const io = fakeIo();
  expect(await imaPolicyCreate(['--log', 'good.bin'], io)).toBe(0);
  writeFileSync(join(dir, 'policy.json'), io.lines.join('\n'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nodeward ima', () => {
  it('policy create prints a Keylime policy with every path of the log', async () => {
    const io = fakeIo();
    expect(await runCli(['ima', 'policy', 'create', '--log', 'good.txt'], io)).toBe(0);
    const policy = JSON.parse(io.lines.join('\n'));
    expect(policy.meta.version).toBe(1);
    expect(policy.digests['/usr/bin/bash']).toEqual([fd('bash').toString('hex')]);
  });

  it.each([
    ['binary', ['--log', 'good.bin', '--policy', 'policy.json']],
    ['ASCII, detected', ['--log', 'good.txt', '--policy', 'policy.json']],
    ['ASCII, forced', ['--log', 'good.txt', '--policy', 'policy.json', '--ascii']],
    ['with the quoted sha256 PCR 10', ['--log', 'good.bin', '--policy', 'policy.json', '--pcr10', pcr10('sha256'), '--bank', 'sha256']],
    ['with the quoted sha1 PCR 10, bank from its length', ['--log', 'good.bin', '--policy', 'policy.json', '--pcr10', pcr10('sha1')]],
  ])('verify passes a good log (%s) with exit 0', async (_t, args) => {
    const io = fakeIo();
    expect(await imaVerify(args, io)).toBe(0);
    expect(io.lines.join('\n')).toContain('verified: 2 entries');
  });

  it('verify fails a bad log with exit 1, one line per offending entry', async () => {
    const io = fakeIo();
    expect(await runCli(['ima', 'verify', '--log', 'bad.bin', '--policy', 'policy.json'], io)).toBe(1);
    expect(io.lines.map((l) => l.split('\t').slice(0, 3))).toEqual([
      ['1', '/usr/bin/bash', 'ima.digest_not_allowed'],
      ['2', '/opt/x', 'ima.path_not_in_policy'],
    ]);
  });

  it('verify fails a wrong quoted PCR 10 and reports JSON', async () => {
    const io = fakeIo();
    expect(await imaVerify(['--log', 'good.bin', '--policy', 'policy.json', '--pcr10', 'ab'.repeat(32), '--json'], io)).toBe(1);
    const out = JSON.parse(io.lines.join('\n'));
    expect(out.verified).toBe(false);
    expect(out.failures.map((f: { id: string }) => f.id)).toEqual(['ima.pcr_mismatch']);
  });

  it.each([
    ['a bad policy', ['ima', 'verify', '--log', 'good.bin', '--policy', 'bad-policy.json'], 'invalid policy bad-policy.json: runtime policy digests["/a"][0]'],
    ['a garbage log', ['ima', 'verify', '--log', 'garbage.bin', '--policy', 'policy.json'], 'malformed IMA log garbage.bin'],
    ['a missing flag', ['ima', 'verify', '--log', 'good.bin'], '--policy is required'],
    ['a missing file', ['ima', 'verify', '--log', 'nope.bin', '--policy', 'policy.json'], 'cannot read nope.bin'],
    ['a bad bank', ['ima', 'verify', '--log', 'good.bin', '--policy', 'policy.json', '--pcr10', 'ab', '--bank', 'md5'], '--bank must be one of'],
    ['a short pcr10', ['ima', 'verify', '--log', 'good.bin', '--policy', 'policy.json', '--pcr10', 'ab'], '--pcr10 must be 64 hex digits'],
    ['a garbage log for policy create', ['ima', 'policy', 'create', '--log', 'garbage.bin'], 'malformed IMA log'],
  ])('%s is exit 2 with one line and no stack trace', async (_t, argv, message) => {
    const io = fakeIo();
    expect(await runCli(argv, io)).toBe(2);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toContain(message);
    expect(io.errors[0]).not.toContain('\n    at ');
    expect(io.lines).toEqual([]);
  });
});
