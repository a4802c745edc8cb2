import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evmctlSignDigests } from '@nodeward/e2e/sim';
import { runCommand } from '@nodeward/e2e/sim';
import { seededRandom } from '../testing/seeded-random.js';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { encodeImaNgEntry, encodeImaSigEntry } from '../testing/encode-ima-entry.js';
import { imaKeyId, parseImaSignature } from './ima-signature.js';
import { parseRuntimePolicy, RuntimePolicyError, type RuntimePolicy } from './runtime-policy.js';
import { ImaVerificationKeys, SignatureBudget, verificationKeyFrom, verificationKeysString } from './verification-keys.js';
import { readFile } from 'node:fs/promises';
import { verifyImaLog } from './verify-ima-entries.js';

/**
 * IMA file signatures made by evmctl (ima-evm-utils, the tool that signs files for IMA appraisal),
 * checked against Keylime-format verification-keys: RSA-2048, ECDSA P-256 and P-384.
 */

type Kind = 'rsa' | 'p256' | 'p384';
interface Signer { kind: Kind; alg: 'sha256' | 'sha384'; key: KeyObject; pem: string; spki: Buffer }

let dir: string;
const signers = {} as Record<Kind, Signer>;

function signer(kind: Kind): Signer {
  const { publicKey, privateKey } = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'prime256v1' : 'secp384r1' });
  return {
    kind, alg: kind === 'p384' ? 'sha384' : 'sha256', key: publicKey,
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** verification-keys as Keylime's ImaKeyring.to_string writes it. */
function keylimeKeys(keys: readonly { spki: Buffer; keyid?: number }[]): string {
  return JSON.stringify({ meta: { version: 1 }, keyids: keys.map((k) => k.keyid ?? 0), pubkeys: keys.map((k) => k.spki.toString('base64')) });
}

const digestOf = (alg: string, data: Buffer): Buffer => createHash(alg).update(data).digest();

function ecPoint(k: KeyObject): Buffer {
  const jwk = k.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

const signed = {} as Record<Kind, { digest: Buffer; sig: Buffer }[]>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-imasig-'));
  for (const kind of ['rsa', 'p256', 'p384'] as const) {
    const s = (signers[kind] = signer(kind));
    const digests = [0, 1, 2].map((i) => digestOf(s.alg, Buffer.from(`contents of file ${i} for ${kind}`)));
    const sigs = await evmctlSignDigests({ dir, name: kind, keyPem: s.pem, alg: s.alg, digests });
    signed[kind] = digests.map((digest, i) => ({ digest, sig: sigs[i]! }));
  }
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseImaSignature on evmctl signatures', () => {
  it.each(['rsa', 'p256', 'p384'] as const)('%s: v2 header, the hash algorithm and the key id evmctl computes', (kind) => {
    const s = signers[kind];
    const parsed = parseImaSignature(signed[kind][0]!.sig);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.hashAlg).toBe(s.alg);
    expect(parsed.keyId).toBe(imaKeyId(kind === 'rsa' ? s.key.export({ type: 'pkcs1', format: 'der' }) : ecPoint(s.key)));
    if (kind === 'rsa') expect(parsed.signature).toHaveLength(256);
  });

  it.each([
    ['empty', '', /shorter than the 9-byte header/],
    ['type 5 (EVM portable)', '050204aabbccdd0001ff', /type 5 is not an IMA digital signature/],
    ['version 1', '030104aabbccdd0001ff', /version 1 is not 2/],
    ['sha1', '030202aabbccdd0001ff', /hash_algo 2 is not/],
    ['size too large', '030204aabbccdd0002ff', /sig_size 2 but 1 signature bytes follow/],
    ['no signature bytes', '030204aabbccdd0000', /empty signature/],
  ])('%s: says what is wrong', (_name, hex, why) => {
    expect(parseImaSignature(Buffer.from(hex, 'hex'))).toMatch(why);
  });
});

describe('ImaVerificationKeys.check', () => {
  const keysFor = (...kinds: Kind[]): ImaVerificationKeys => ImaVerificationKeys.parse(keylimeKeys(kinds.map((k) => ({ spki: signers[k].spki }))));

  it.each(['rsa', 'p256', 'p384'] as const)('%s: evmctl signatures verify over their digests', (kind) => {
    const keys = keysFor('rsa', 'p256', 'p384');
    for (const { digest, sig } of signed[kind]) expect(keys.check(sig, signers[kind].alg, digest, new SignatureBudget())).toBe('verified');
  });

  it.each(['rsa', 'p256', 'p384'] as const)('%s: not over another digest, even one bit away, nor over another file\'s', (kind) => {
    const keys = keysFor(kind);
    const [a, b] = signed[kind];
    const flipped = Buffer.from(a!.digest);
    flipped[flipped.length - 1]! ^= 1;
    for (const digest of [flipped, b!.digest]) {
      expect(keys.check(a!.sig, signers[kind].alg, digest, new SignatureBudget())).toEqual({ problem: expect.stringMatching(/does not verify/) });
    }
  });

  it('the entry\'s digest algorithm must be the one signed', () => {
    const { digest, sig } = signed.rsa[0]!;
    expect(keysFor('rsa').check(sig, 'sha512', digest, new SignatureBudget())).toEqual({ problem: 'signature is over a sha256 digest, the entry\'s is sha512' });
  });

  it('a key the policy does not list: no verification key with that id', () => {
    const check = keysFor('p256').check(signed.rsa[0]!.sig, 'sha256', signed.rsa[0]!.digest, new SignatureBudget());
    expect(check).toEqual({ problem: expect.stringMatching(/^no verification key with id [0-9a-f]{8}$/) });
  });

  it('keyids name the key: the P-256 key listed under the RSA key\'s id does not verify the RSA signature', () => {
    const rsaId = imaKeyId(signers.rsa.key.export({ type: 'pkcs1', format: 'der' }));
    const keys = ImaVerificationKeys.parse(keylimeKeys([{ spki: signers.p256.spki, keyid: rsaId }]));
    expect(keys.check(signed.rsa[0]!.sig, 'sha256', signed.rsa[0]!.digest, new SignatureBudget())).toEqual({ problem: expect.stringMatching(/does not verify/) });
  });

  it('after the budget of failed checks, signatures are not checked (and do not pass)', () => {
    const keys = keysFor('rsa');
    const budget = new SignatureBudget(2);
    const { digest, sig } = signed.rsa[0]!;
    const other = signed.rsa[1]!.digest;
    expect(keys.check(sig, 'sha256', other, budget)).toEqual({ problem: expect.stringMatching(/does not verify/) });
    expect(keys.check(sig, 'sha256', other, budget)).toEqual({ problem: expect.stringMatching(/does not verify/) });
    expect(keys.check(signed.rsa[2]!.sig, 'sha256', signed.rsa[2]!.digest, budget)).toEqual({ problem: 'not checked: too many signatures in this batch failed already' });
    // One verified before stays verified (remembered), budget or not.
    expect(keysFor('rsa').check(sig, 'sha256', digest, new SignatureBudget())).toBe('verified');
  });

  it('seeded mutations of real signatures never throw, and an RSA one verifies only unchanged', () => {
    const keys = keysFor('rsa', 'p256');
    const random = seededRandom(0x51a);
    let verified = 0;
    for (let i = 0; i < 3_000; i++) {
      const kind = i % 2 === 0 ? 'rsa' : 'p256';
      const { digest, sig } = signed[kind][0]!;
      const m = Buffer.from(sig);
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) m[Math.floor(random() * m.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? m.subarray(0, Math.floor(random() * m.length)) : m;
      const check = keys.check(cut, 'sha256', digest, new SignatureBudget());
      if (check === 'verified') {
        verified++;
        if (kind === 'rsa') expect(cut.equals(sig)).toBe(true);
      }
    }
    expect(verified).toBeLessThan(3_000 * 0.05);
  });
});

describe('a signing certificate: evmctl --keyid-from-cert signs with its Subject Key Identifier', () => {
  // OpenSSL's default SKID is the SHA-1 of the public key, which is the computed key id too; this
  // certificate's SKID is set otherwise, as CA-issued signing certificates may have it.
  it('the key read from the certificate verifies; the bare public key (id computed) does not match the id', async () => {
    const key = join(dir, 'cert.key');
    const crt = join(dir, 'cert.crt');
    await runCommand('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=IMA', '-days', '1',
      '-addext', 'subjectKeyIdentifier=00112233445566778899aabbccddeeff01020304', '-keyout', key, '-out', crt]);
    const digest = digestOf('sha256', Buffer.from('a file signed with a certificate key'));
    const sig = (await evmctlSignDigests({ dir, name: 'cert-signer', keyPem: await readFile(key, 'utf8'), alg: 'sha256', digests: [digest], args: ['--keyid-from-cert', crt] }))[0]!;
    const fromCert = verificationKeyFrom(await readFile(crt));
    expect(fromCert.keyId).toBe(0x01020304);
    expect(ImaVerificationKeys.parse(verificationKeysString([fromCert])).check(sig, 'sha256', digest, new SignatureBudget())).toBe('verified');
    const bare = ImaVerificationKeys.parse(verificationKeysString([{ spki: fromCert.spki, keyId: 0 }]));
    expect(bare.check(sig, 'sha256', digest, new SignatureBudget())).toEqual({ problem: expect.stringMatching(/^no verification key with id/) });
  });
});

describe('verification-keys in a runtime policy', () => {
  const policyWith = (keys: string): RuntimePolicy => parseRuntimePolicy({ meta: { version: 1 }, digests: { '/usr/bin/listed': [digestOf('sha256', Buffer.from('listed')).toString('hex')] }, 'verification-keys': keys });

  it.each([
    ['not JSON', '{', /verification-keys: not JSON/],
    ['pubkeys missing', '{"keyids": []}', /pubkeys must be an array of base64 strings/],
    ['keyids not integers', '{"keyids": ["a"], "pubkeys": []}', /keyids must be an array of 32-bit unsigned integers/],
    ['garbage key', '{"pubkeys": ["AAAA"]}', /pubkeys\[0\] is not a DER SubjectPublicKeyInfo/],
  ])('%s: RuntimePolicyError naming verification-keys', (_name, keys, why) => {
    expect(() => compileRuntimePolicy(policyWith(keys))).toThrow(RuntimePolicyError);
    expect(() => compileRuntimePolicy(policyWith(keys))).toThrow(why);
  });

  it('weak or unusable keys are skipped with a warning naming them; one key id given twice is refused', () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    const p = compileRuntimePolicy(policyWith(keylimeKeys([{ spki: rsa1024 }, { spki: ed }, { spki: signers.rsa.spki }])));
    expect(p.verificationKeys.size).toBe(1);
    expect(p.warnings).toEqual([
      expect.stringMatching(/^verification-keys pubkeys\[0\] \(key id [0-9a-f]{8}\) skipped: RSA-1024; at least 2048 bits/),
      expect.stringMatching(/^verification-keys pubkeys\[1\] skipped: a ed25519 key/),
    ]);
    expect(() => compileRuntimePolicy(policyWith(keylimeKeys([{ spki: signers.rsa.spki }, { spki: signers.rsa.spki }])))).toThrow(/pubkeys\[1\]: key id [0-9a-f]{8} is given twice/);
  });

  /** A listed ima-ng entry, then an ima-sig entry per signature (log entry `tamper` with other contents); binary and ASCII. */
  function signedLogs(kinds: readonly Kind[], tamper?: number): { binary: Buffer; ascii: Buffer } {
    const listed = digestOf('sha256', Buffer.from('listed'));
    const first = encodeImaNgEntry({ path: '/usr/bin/listed', fileDigest: listed });
    const lines = [`10 ${first.templateHash.toString('hex')} ima-ng sha256:${listed.toString('hex')} /usr/bin/listed`];
    const bytes = [first.bytes];
    kinds.flatMap((kind) => signed[kind].map((s, i) => ({ kind, ...s, i }))).forEach(({ kind, digest, sig, i }, n) => {
      const fileDigest = n + 1 === tamper ? digestOf(signers[kind].alg, randomBytes(16)) : digest;
      const path = `/opt/signed/${kind}-${i}`;
      const e = encodeImaSigEntry({ path, fileDigest, fileDigestAlg: signers[kind].alg, sig });
      bytes.push(e.bytes);
      lines.push(`10 ${e.templateHash.toString('hex')} ima-sig ${signers[kind].alg}:${fileDigest.toString('hex')} ${path} ${sig.toString('hex')}`);
    });
    return { binary: Buffer.concat(bytes), ascii: Buffer.from(lines.join('\n') + '\n') };
  }
  const signedLog = (kinds: readonly Kind[], tamper?: number): Buffer => signedLogs(kinds, tamper).binary;

  it('signed entries outside the digest list pass with the keys, and fail without them', () => {
    const { binary: log, ascii } = signedLogs(['rsa', 'p256', 'p384']);
    const keys = keylimeKeys([{ spki: signers.rsa.spki }, { spki: signers.p256.spki }, { spki: signers.p384.spki }]);
    expect(verifyImaLog(log, compileRuntimePolicy(policyWith(keys))).failures).toEqual([]);
    expect(verifyImaLog(ascii, compileRuntimePolicy(policyWith(keys))).failures).toEqual([]);
    expect(verifyImaLog(ascii, compileRuntimePolicy(policyWith(''))).failures).toHaveLength(9);
    // Keylime stores the string JSON-encoded once more in some policies; both spellings are read.
    expect(verifyImaLog(log, compileRuntimePolicy(policyWith(JSON.stringify(keys)))).failures).toEqual([]);
    const without = verifyImaLog(log, compileRuntimePolicy(policyWith(''))).failures;
    expect(without.map((f) => f.id)).toEqual(Array(9).fill('ima.path_not_in_policy'));
    expect(without[0]!.context).not.toHaveProperty('signature');
  });

  it('a signed file whose contents changed fails, and the failure says why its signature did not count', () => {
    const log = signedLog(['rsa', 'p256'], 5);
    const keys = keylimeKeys([{ spki: signers.rsa.spki }, { spki: signers.p256.spki }]);
    const failures = verifyImaLog(log, compileRuntimePolicy(policyWith(keys))).failures;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      id: 'ima.path_not_in_policy',
      message: expect.stringMatching(/entry 5: path \/opt\/signed\/p256-1 is not in the runtime policy \(its signature does not count: signature does not verify with key [0-9a-f]{8}\)/),
      context: { index: 5, path: '/opt/signed/p256-1', signature: expect.stringMatching(/does not verify/) },
    });
  });

  it('only the keys listed count: the P-384 entries fail with the RSA and P-256 keys alone', () => {
    const log = signedLog(['p384']);
    const failures = verifyImaLog(log, compileRuntimePolicy(policyWith(keylimeKeys([{ spki: signers.rsa.spki }, { spki: signers.p256.spki }])))).failures;
    expect(failures.map((f) => f.context?.signature)).toEqual(Array(3).fill(expect.stringMatching(/^no verification key with id/)));
  });
});
