import { constants, createDecipheriv, createHash, createHmac, createPublicKey, diffieHellman, generateKeyPair, privateDecrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ALG, ECC_CURVE, marshalPublic, TPMA_OBJECT } from '@nodeward/attest';

/**
 * A software EK (RSA-2048 or NIST P-256, the TCG EK templates L-1 and L-2) and TPM2_ActivateCredential
 * in software (TPM 2.0 Part 1, 24.4): the reverse of attest's makeCredential, written independently of it
 * so the two check each other. nameAlg SHA-256, AES-128-CFB; the seed by RSA-OAEP with label
 * "IDENTITY\0", or for ECC by ECDH and KDFe (Part 1, 11.4.10.3).
 */

export interface SoftEk {
  readonly type: 'rsa' | 'ecc';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** TPM2B_PUBLIC as the agent serves ekPublic. */
  readonly publicArea: Buffer;
}

/** PolicySecret(TPM_RH_ENDORSEMENT): the TCG EK template's authPolicy. */
const EK_AUTH_POLICY = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');
const EK_ATTRIBUTES = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin
  | TPMA_OBJECT.adminWithPolicy | TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;
const AES_BITS = 128;
const LABEL_IDENTITY = Buffer.from('IDENTITY\0', 'latin1');

export class SoftActivationError extends Error {
  constructor(readonly code: 'activate.malformed' | 'activate.integrity', message: string) {
    super(message);
    this.name = 'SoftActivationError';
    Object.setPrototypeOf(this, SoftActivationError.prototype);
  }
}

const EK_SYMMETRIC = { algorithm: ALG.AES, keyBits: AES_BITS, mode: ALG.CFB };
const P256_BYTES = 32;

export async function createSoftEk(type: SoftEk['type'] = 'rsa'): Promise<SoftEk> {
  const base = { nameAlg: 'sha256' as const, objectAttributes: EK_ATTRIBUTES, authPolicy: EK_AUTH_POLICY, symmetric: EK_SYMMETRIC, scheme: null, raw: new Uint8Array(0) };
  if (type === 'ecc') {
    const { privateKey, publicKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const publicArea = marshalPublic({ ...base, type: 'ecc', curveId: ECC_CURVE.NIST_P256, kdf: null,
      x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') });
    return { type, privateKey, publicKey, publicArea };
  }
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const modulus = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
  const publicArea = marshalPublic({ ...base, type: 'rsa', keyBits: 2048, exponent: 0, modulus });
  return { type, privateKey, publicKey, publicArea };
}

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };

/** KDFa (Part 1, 11.4.10.2) with HMAC-SHA-256: SP800-108 counter mode; label gets its 0 terminator. */
export function kdfaSha256(key: Buffer, label: string, contextU: Uint8Array, contextV: Uint8Array, bits: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 1; blocks.length * 32 < bits / 8; i++) {
    blocks.push(createHmac('sha256', key).update(u32(i)).update(Buffer.from(`${label}\0`, 'latin1')).update(contextU).update(contextV).update(u32(bits)).digest());
  }
  return Buffer.concat(blocks).subarray(0, bits / 8);
}

/** KDFe (Part 1, 11.4.10.3) with SHA-256: hash(counter || Z || label\0 || partyU || partyV) blocks. */
export function kdfeSha256(z: Buffer, label: string, partyU: Uint8Array, partyV: Uint8Array, bits: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 1; blocks.length * 32 < bits / 8; i++) {
    blocks.push(createHash('sha256').update(u32(i)).update(z).update(Buffer.from(`${label}\0`, 'latin1')).update(partyU).update(partyV).digest());
  }
  return Buffer.concat(blocks).subarray(0, bits / 8);
}

/** The payload of a TPM2B at `at` (u16 size, then the bytes), and where it ends. */
function readTpm2b(buf: Buffer, at: number, what: string): { value: Buffer; end: number } {
  if (buf.length < at + 2) throw new SoftActivationError('activate.malformed', `${what}: truncated size`);
  const end = at + 2 + buf.readUInt16BE(at);
  if (end > buf.length) throw new SoftActivationError('activate.malformed', `${what}: size exceeds the buffer`);
  return { value: buf.subarray(at + 2, end), end };
}

/** ECC: the secret is the ephemeral point (TPMS_ECC_POINT); seed = KDFe(Z, "IDENTITY", ephemeral.x, ek.x). */
function eccSeed(ek: SoftEk, point: Buffer): Buffer {
  const x = readTpm2b(point, 0, 'TPMS_ECC_POINT.x');
  const y = readTpm2b(point, x.end, 'TPMS_ECC_POINT.y');
  if (x.value.length !== P256_BYTES || y.value.length !== P256_BYTES) throw new SoftActivationError('activate.malformed', 'the ephemeral point is not P-256');
  const ekJwk = ek.publicKey.export({ format: 'jwk' });
  const z = diffieHellman({ privateKey: ek.privateKey,
    publicKey: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: x.value.toString('base64url'), y: y.value.toString('base64url') }, format: 'jwk' }) });
  return kdfeSha256(z, 'IDENTITY', x.value, Buffer.from(ekJwk.x!, 'base64url'), 256);
}

function recoverSeed(ek: SoftEk, encrypted: Buffer): Buffer {
  try {
    return ek.type === 'ecc' ? eccSeed(ek, encrypted)
      : privateDecrypt({ key: ek.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: LABEL_IDENTITY }, encrypted);
  } catch (e) {
    if (e instanceof SoftActivationError) throw e;
    throw new SoftActivationError('activate.integrity', 'the seed does not decrypt with this EK');
  }
}

/**
 * TPM2_ActivateCredential: recovers the secret from `credentialBlob` (TPM2B_ID_OBJECT) and
 * `encryptedSecret` (TPM2B_ENCRYPTED_SECRET), both with their size prefixes, for the AK of Name `akName`.
 * Throws SoftActivationError when the blob is malformed or its HMAC does not verify (wrong EK or AK).
 */
export function softActivateCredential(ek: SoftEk, akName: Buffer, credentialBlob: Buffer, encryptedSecret: Buffer): Buffer {
  const idObject = readTpm2b(credentialBlob, 0, 'TPM2B_ID_OBJECT').value;
  const integrity = readTpm2b(idObject, 0, 'integrityHMAC');
  const encIdentity = idObject.subarray(integrity.end);
  const seed = recoverSeed(ek, readTpm2b(encryptedSecret, 0, 'TPM2B_ENCRYPTED_SECRET').value);
  const hmacKey = kdfaSha256(seed, 'INTEGRITY', new Uint8Array(0), new Uint8Array(0), 256);
  const expected = createHmac('sha256', hmacKey).update(encIdentity).update(akName).digest();
  if (integrity.value.length !== expected.length || !timingSafeEqual(integrity.value, expected)) {
    throw new SoftActivationError('activate.integrity', 'integrity HMAC mismatch: credential made for another EK or AK Name');
  }
  const symKey = kdfaSha256(seed, 'STORAGE', akName, new Uint8Array(0), AES_BITS);
  const decipher = createDecipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const plain = Buffer.concat([decipher.update(encIdentity), decipher.final()]);
  return readTpm2b(plain, 0, 'TPM2B_DIGEST credential').value;
}
