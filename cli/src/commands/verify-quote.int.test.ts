import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSwtpmCa, startSwtpm, tpm2, type Swtpm } from '@nodeward/e2e/sim';
import { processIo, type CliIo } from '../cli-io.js';
import { runCli } from '../run-cli.js';

/** nodeward verify-quote on real tpm2_quote output from swtpm, through runCli with a collecting CliIo. */

let dir: string;
let tpm: Swtpm;
const nonce = randomBytes(20).toString('hex');

async function run(tool: string, args: string[]): Promise<string> {
  const { stdout } = await tpm2(tpm, tool, args, dir);
  await tpm2(tpm, 'tpm2_flushcontext', ['-t'], dir);
  return stdout.toString();
}

function fakeIo(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), readFile: (p, max) => processIo.readFile(p, max) };
}

const f = (name: string): string => join(dir, name);
const args = (over: Record<string, string> = {}): string[] =>
  Object.entries({ '--ak-pub': f('ak.pem'), '--message': f('quote.msg'), '--signature': f('quote.sig'), '--pcrs': f('pcrs.yaml'), '--nonce': nonce, ...over })
    .flat();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-cli-quote-'));
  tpm = await startSwtpm({ ca: await createSwtpmCa(f('ca')), stateDir: f('tpm') });
  await run('tpm2_pcrextend', [`10:sha256=${'42'.repeat(32)}`]);
  await run('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub']);
  await run('tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', 'ak.pem', '-f', 'pem', '-n', 'ak.name']);
  await run('tpm2_readpublic', ['-c', 'ak.ctx', '-o', 'ak.tss']);
  const out = await run('tpm2_quote', ['-c', 'ak.ctx', '-l', 'sha1:0,10+sha256:0,10', '-q', nonce, '-m', 'quote.msg', '-s', 'quote.sig', '-o', 'pcrs.bin', '-g', 'sha256']);
  await writeFile(f('quote.yaml'), out);
  // As stored quotes from other systems often are: no qualifying data (tpm2_quote without -q).
  await run('tpm2_quote', ['-c', 'ak.ctx', '-l', 'sha1:0,10+sha256:0,10', '-m', 'noq.msg', '-s', 'noq.sig', '-g', 'sha256']);
  await writeFile(f('pcrs.yaml'), (await run('tpm2_pcrread', ['sha1:0,10+sha256:0,10'])));
  await writeFile(f('garbage'), 'this is not a TPMS_ATTEST');
});

afterAll(async () => {
  await tpm?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('nodeward verify-quote', () => {
  it('exits 0 on a genuine quote with the PEM AK and tpm2_pcrread values', async () => {
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...args()], io)).toBe(0);
    expect(io.lines.join('\n')).toMatch(/^verified: 4 PCRs, sha256/);
    expect(io.errors).toEqual([]);
  });

  it('accepts the TPM2B_PUBLIC AK and the PCRs from tpm2_quote stdout, with --json', async () => {
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...args({ '--ak-pub': f('ak.tss'), '--pcrs': f('quote.yaml') }), '--json'], io)).toBe(0);
    const json = JSON.parse(io.lines.join(''));
    expect(json).toMatchObject({ verified: true, hashAlg: 'sha256' });
    expect(json.pcrs.sha256['10']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('exits 1 on another nonce, naming the reason', async () => {
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...args({ '--nonce': randomBytes(20).toString('hex') })], io)).toBe(1);
    expect(io.lines).toEqual(['rejected', expect.stringMatching(/^ {2}quote\.nonce_mismatch: /)]);
  });

  it('exits 1 when a PCR value differs, as JSON', async () => {
    const yaml = (await run('tpm2_pcrread', ['sha1:0,10+sha256:0,10'])).replace(/(10: 0x)[0-9A-F]{64}/, `$1${'00'.repeat(32)}`);
    await writeFile(f('tampered.yaml'), yaml);
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...args({ '--pcrs': f('tampered.yaml') }), '--json'], io)).toBe(1);
    expect(JSON.parse(io.lines.join('')).reasons.map((r: { id: string }) => r.id)).toEqual(['quote.pcr_digest_mismatch']);
  });

  const noNonce = (over: Record<string, string> = {}): string[] =>
    args({ '--message': f('noq.msg'), '--signature': f('noq.sig'), ...over }).filter((a, i, all) => a !== '--nonce' && all[i - 1] !== '--nonce');

  it('checks a quote made without -q when --nonce is left out, and says freshness was not checked', async () => {
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...noNonce()], io)).toBe(0);
    expect(io.lines).toEqual([expect.stringMatching(/^verified: 4 PCRs, sha256/), expect.stringMatching(/^freshness not checked: /)]);
    const json = fakeIo();
    expect(await runCli(['verify-quote', ...noNonce(), '--json'], json)).toBe(0);
    expect(JSON.parse(json.lines.join(''))).toMatchObject({ verified: true, freshnessChecked: false });
  });

  it('takes --nonce "" as the empty qualifying data of a quote made without -q', async () => {
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...noNonce(), '--nonce', ''], io)).toBe(0);
    expect(io.lines[1]).toMatch(/^freshness not checked: /);
    const other = fakeIo();
    expect(await runCli(['verify-quote', ...args(), '--nonce', ''], other)).toBe(1);
    expect(other.lines).toContainEqual(expect.stringMatching(/quote\.nonce_mismatch/));
  });

  it('without --nonce still rejects what else is wrong (exit 1), and says freshness was not checked', async () => {
    const yaml = (await run('tpm2_pcrread', ['sha1:0,10+sha256:0,10'])).replace(/(10: 0x)[0-9A-F]{64}/, `$1${'00'.repeat(32)}`);
    await writeFile(f('tampered-noq.yaml'), yaml);
    const io = fakeIo();
    expect(await runCli(['verify-quote', ...noNonce({ '--pcrs': f('tampered-noq.yaml') })], io)).toBe(1);
    expect(io.lines).toEqual(['rejected', expect.stringMatching(/quote\.pcr_digest_mismatch/), expect.stringMatching(/^freshness not checked: /)]);
    const signedElsewhere = fakeIo();
    expect(await runCli(['verify-quote', ...noNonce({ '--signature': f('quote.sig') })], signedElsewhere)).toBe(1);
  });

  it.each([
    ['a garbage message', { '--message': 'garbage' }, /--message: malformed TPMS_ATTEST/],
    ['a garbage signature', { '--signature': 'garbage' }, /--signature: malformed TPMT_SIGNATURE/],
    ['a garbage AK', { '--ak-pub': 'garbage' }, /--ak-pub: malformed TPM2B_PUBLIC/],
    ['a signature as the PCR file', { '--pcrs': 'quote.sig' }, /--pcrs: malformed/],
    ['a missing file', { '--message': 'nope' }, /cannot read .*nope: ENOENT/],
    ['an odd-length nonce', { '--nonce': 'abc' }, /--nonce must be/],
  ])('exits 2 on %s, without a stack trace', async (_n, over, message) => {
    const io = fakeIo();
    const files = Object.fromEntries(Object.entries(over).map(([k, v]) => [k, k === '--nonce' ? v : f(v)]));
    expect(await runCli(['verify-quote', ...args(files)], io)).toBe(2);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toMatch(message);
    expect(io.errors[0]).not.toMatch(/\n\s+at /);
  });

  it('exits 2 without a required flag', async () => {
    const io = fakeIo();
    expect(await runCli(['verify-quote', '--nonce', nonce], io)).toBe(2);
    expect(io.errors[0]).toMatch(/--ak-pub is required/);
  });
});
