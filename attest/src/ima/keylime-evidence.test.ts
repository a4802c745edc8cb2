import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { parseRuntimePolicy } from './runtime-policy.js';
import { verifyImaLog } from './verify-ima-entries.js';

/**
 * Keylime's own test evidence (testdata/PROVENANCE.md): the two ima-sig entries of
 * test/test_ima_verification.py SIGNATURES, /usr/bin/dd signed by keylime's rsa2048 key and
 * /usr/bin/zmore by its secp256k1 key, and the policy keys Keylime's test puts in the keyring.
 * Keylime 7.14.3's process_measurement_list on the same entries (policy listing only MEASUREMENTS'
 * files): both keys, passes (it verifies secp256k1); the RSA key alone, fails on /usr/bin/zmore
 * (ima.validation.ima-ng.not_in_allowlist). Nodeward skips the secp256k1 key, so with both keys it
 * gives Keylime's RSA-only verdict: deliberately stricter (README).
 */
const data = (name: string): Buffer => readFileSync(new URL(`testdata/${name}`, import.meta.url));
const spki = (pem: string): string => createPublicKey(data(pem)).export({ type: 'spki', format: 'der' }).toString('base64');
const keys = JSON.stringify({ pubkeys: [spki('keylime-rsa2048pub.pem'), spki('keylime-secp256k1pub.pem')] });
const signatures = data('keylime-signatures.ascii');
const ZMORE = 'b8ae0b8dd04a5935cd8165aa2260cd11b658bd71629bdb52256a675a1f73907b';

const policy = (digests: Record<string, string[]> = {}): ReturnType<typeof compileRuntimePolicy> =>
  compileRuntimePolicy(parseRuntimePolicy({ meta: { version: 1 }, digests, 'verification-keys': keys }));

describe('verification-keys with a key Nodeward cannot use (Keylime test policy: rsa2048 + secp256k1)', () => {
  it('skips the secp256k1 key with a warning naming it; the policy stays usable', () => {
    const p = policy();
    expect(p.verificationKeys.size).toBe(1);
    expect(p.warnings).toEqual([expect.stringMatching(/^verification-keys pubkeys\[1\] \(key id 531f4025\) skipped: ECDSA on curve secp256k1/)]);
  });

  it("Keylime's own keyring string (test_ima_verification.py IMA_KEYRING_STRING: key ids given) reads the same", () => {
    const withIds = JSON.stringify({ pubkeys: [spki('keylime-rsa2048pub.pem'), spki('keylime-secp256k1pub.pem')], keyids: [4081397027, 1394556965] });
    const p = compileRuntimePolicy(parseRuntimePolicy({ meta: { version: 1 }, 'verification-keys': withIds }));
    expect(p.warnings).toEqual([expect.stringMatching(/^verification-keys pubkeys\[1\] \(key id 531f4025\) skipped/)]);
    expect(verifyImaLog(signatures, p).failures.map((f) => f.context?.path)).toEqual(['/usr/bin/zmore']);
  });

  it('the RSA-signed file passes on its signature; the file signed only by the skipped key is held to digests', () => {
    const failures = verifyImaLog(signatures, policy()).failures;
    expect(failures).toEqual([expect.objectContaining({
      id: 'ima.path_not_in_policy',
      context: expect.objectContaining({ path: '/usr/bin/zmore', signature: expect.stringMatching(/verification key 531f4025 \(pubkeys\[1\]\) was skipped: ECDSA on curve secp256k1/) }),
    })]);
    expect(verifyImaLog(signatures, policy({ '/usr/bin/zmore': [ZMORE] })).failures).toEqual([]);
  });
});
