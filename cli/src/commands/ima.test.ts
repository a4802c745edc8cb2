import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { encodeImaNgEntry, encodeImaSigEntry } from '@nodeward/attest/testing';
import { EVMCTL_RSA_SPKI, LS_DIGEST, LS_SIG } from '@nodeward/attest/testing';
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
  writeFileSync(join(dir, 'bad-keys-policy.json'), '{"meta":{"version":1},"verification-keys":"{\\"pubkeys\\":[\\"AAAA\\"]}"}');
  // good.bin then /bin/ls, signed by evmctl with the key in EVMCTL_RSA_SPKI.
  writeFileSync(join(dir, 'signed.bin'), Buffer.concat([...good.map((e) => e.bytes), encodeImaSigEntry({ path: '/bin/ls', fileDigest: LS_DIGEST, sig: LS_SIG }).bytes]));
  writeFileSync(join(dir, 'ls.pub.pem'), `-----BEGIN PUBLIC KEY-----\n${EVMCTL_RSA_SPKI.replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`);
  writeFileSync(join(dir, 'ls.pub.der'), Buffer.from(EVMCTL_RSA_SPKI, 'base64'));
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

  it('policy pack prints the ConfigMaps of a gzip-compressed policy, and verify reads the gzip file too', async () => {
    const io = fakeIo();
    expect(await runCli(['ima', 'policy', 'pack', '--policy', 'policy.json', '--name', 'rp', '--namespace', 'ns'], io)).toBe(0);
    const list = JSON.parse(io.lines.join('')) as { kind: string; items: { metadata: { name: string; namespace: string }; binaryData: Record<string, string> }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata)).toEqual([{ name: 'rp', namespace: 'ns' }]);
    const gz = Buffer.from(list.items[0]!.binaryData['runtime-policy.json']!, 'base64');
    expect(gunzipSync(gz).toString('utf8')).toBe(readFileSync(join(dir, 'policy.json'), 'utf8'));
    writeFileSync(join(dir, 'policy.json.gz'), gz);
    expect(await imaVerify(['--log', 'good.bin', '--policy', 'policy.json.gz'], fakeIo())).toBe(0);
    const bad = fakeIo();
    expect(await runCli(['ima', 'policy', 'pack', '--policy', 'bad-policy.json', '--name', 'rp', '--namespace', 'ns'], bad)).toBe(2);
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

  it.each(['ls.pub.pem', 'ls.pub.der'])('policy create --verification-key %s: the signed file passes verify, and fails without the key', async (keyFile) => {
    const io = fakeIo();
    expect(await runCli(['ima', 'policy', 'create', '--log', 'good.bin', '--verification-key', keyFile], io)).toBe(0);
    const policy = JSON.parse(io.lines.join('\n'));
    expect(JSON.parse(policy['verification-keys'])).toEqual({ pubkeys: [EVMCTL_RSA_SPKI], keyids: [0] });
    writeFileSync(join(dir, 'keyed-policy.json'), io.lines.join('\n'));
    const ok = fakeIo();
    expect(await runCli(['ima', 'verify', '--log', 'signed.bin', '--policy', 'keyed-policy.json'], ok)).toBe(0);
    const no = fakeIo();
    expect(await runCli(['ima', 'verify', '--log', 'signed.bin', '--policy', 'policy.json'], no)).toBe(1);
    expect(no.lines.map((l) => l.split('\t').slice(0, 3))).toEqual([['2', '/bin/ls', 'ima.path_not_in_policy']]);
  });

  it('policy create --verification-key with a certificate lists its Subject Key Identifier as the key id', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=IMA signing',
      '-days', '1', '-keyout', join(dir, 'ima.key'), '-out', join(dir, 'ima.crt')], { stdio: 'ignore' });
    const skid = execFileSync('openssl', ['x509', '-in', join(dir, 'ima.crt'), '-noout', '-ext', 'subjectKeyIdentifier']).toString().trim().split('\n').pop()!.replace(/[:\s]/g, '');
    const io = fakeIo();
    expect(await runCli(['ima', 'policy', 'create', '--log', 'good.bin', '--verification-key', 'ls.pub.pem,ima.crt'], io)).toBe(0);
    const keys = JSON.parse(JSON.parse(io.lines.join('\n'))['verification-keys']);
    expect(keys.keyids).toEqual([0, Number.parseInt(skid.slice(-8), 16)]);
    expect(keys.pubkeys).toHaveLength(2);
  });

  it.each([
    ['a policy with unusable verification-keys', ['ima', 'verify', '--log', 'good.bin', '--policy', 'bad-keys-policy.json'], 'invalid policy bad-keys-policy.json: runtime policy verification-keys: pubkeys[0] is not a DER SubjectPublicKeyInfo'],
    ['a verification key that is not one', ['ima', 'policy', 'create', '--log', 'good.bin', '--verification-key', 'garbage.bin'], '--verification-key garbage.bin: not a public key or certificate'],
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
