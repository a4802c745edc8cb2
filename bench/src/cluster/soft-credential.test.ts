import { randomBytes } from 'node:crypto';
import { makeCredential } from '@nodeward/attest';
import { createSoftAk } from '@nodeward/e2e/sim';
import { createSoftEk, softActivateCredential, SoftActivationError } from './soft-credential.js';

describe('softActivateCredential', () => {
  it.each(['rsa', 'ecc'] as const)('recovers the secret attest makeCredential protected to a %s EK, and only for the AK Name it was bound to', async (type) => {
    const ek = await createSoftEk(type);
    const ak = createSoftAk();
    const secret = randomBytes(32);
    const made = makeCredential({ ekPublic: ek.publicArea, akName: ak.name, secret });
    expect(softActivateCredential(ek, ak.name, made.credentialBlob, made.encryptedSecret)).toEqual(secret);
    const other = Buffer.from(ak.name);
    other[other.length - 1]! ^= 1;
    expect(() => softActivateCredential(ek, other, made.credentialBlob, made.encryptedSecret)).toThrow(SoftActivationError);
    expect(() => softActivateCredential(ek, ak.name, made.credentialBlob.subarray(0, 10), made.encryptedSecret)).toThrow(SoftActivationError);
  });
});
