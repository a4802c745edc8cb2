import { constants, createCipheriv, createECDH, createHmac, publicEncrypt, randomBytes } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { digestSize, type HashAlgName } from '../hash-alg.js';
import { ALG, eccCurve } from './constants.js';
import { kdfa, kdfe } from './kdf.js';
import { padTo, publicKeyObject } from './key-object.js';
import { parsePublic, type EccPublic, type RsaPublic, type TpmPublic } from './public.js';
import { ByteWriter, tpm2b } from './writer.js';

export interface MakeCredentialInput {
  /** TPM2B_PUBLIC of the EK (RSA with OAEP, or ECC with ECDH), as the agent reported it. */
  readonly ekPublic: Uint8Array | TpmPublic;
  /** Name of the AK the credential is bound to (IdentityResponse.akName, decoded). */
  readonly akName: Uint8Array;
  /** The secret TPM2_ActivateCredential releases; at most the EK nameAlg's digest size. */
  readonly secret: Uint8Array;
}

export interface MadeCredential {
  /** TPM2B_ID_OBJECT including its u16 size: TPM2B_DIGEST(integrityHMAC) || encIdentity. */
  readonly credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET including its u16 size. */
  readonly encryptedSecret: Buffer;
}

const NODE_CURVE = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;

function unsupported(detail: string): never {
  throw new ParseError('TPMT_PUBLIC', 0, detail);
}

/** RSA EK: a random seed, RSA-OAEP(nameAlg) with label "IDENTITY\0". */
function rsaSeed(ek: RsaPublic): { seed: Buffer; encrypted: Buffer } {
  const seed = randomBytes(digestSize(ek.nameAlg));
  const encrypted = publicEncrypt(
    { key: publicKeyObject(ek), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: ek.nameAlg, oaepLabel: Buffer.from('IDENTITY\0', 'latin1') },
    seed,
  );
  return { seed, encrypted };
}

/** ECC EK: an ephemeral ECDH key; seed = KDFe(nameAlg, Z, "IDENTITY", ephemeral.x, ek.x); the secret is the ephemeral point. */
function eccSeed(ek: EccPublic): { seed: Buffer; encrypted: Buffer } {
  const curve = eccCurve(ek.curveId) ?? unsupported(`unsupported EK curve 0x${ek.curveId.toString(16)}`);
  publicKeyObject(ek); // rejects points off the curve
  const ekX = padTo(ek.x, curve.size)!;
  const ekY = padTo(ek.y, curve.size)!;
  const ecdh = createECDH(NODE_CURVE[curve.jwk]);
  const ephemeral = ecdh.generateKeys();
  const z = ecdh.computeSecret(Buffer.concat([Buffer.of(4), ekX, ekY]));
  const ux = ephemeral.subarray(1, 1 + curve.size);
  const uy = ephemeral.subarray(1 + curve.size);
  const seed = kdfe(ek.nameAlg, z, 'IDENTITY', [ux, ekX], digestSize(ek.nameAlg) * 8);
  return { seed, encrypted: new ByteWriter().tpm2b(ux).tpm2b(uy).finish() };
}

function symmetricKeyBits(ek: TpmPublic): number {
  const s = ek.symmetric;
  if (s === null || s.algorithm !== ALG.AES || s.mode !== ALG.CFB || ![128, 192, 256].includes(s.keyBits)) {
    unsupported('the EK must be a storage key with AES-CFB symmetric parameters');
  }
  return s.keyBits;
}

/**
 * TPM2_MakeCredential in software (TPM 2.0 Part 1, 24): protects `secret` so that only the TPM holding
 * the EK, with the AK of Name `akName` loaded, can recover it with TPM2_ActivateCredential.
 * Throws ParseError for an EK that is malformed or unusable, RangeError for an oversize secret.
 */
export function makeCredential(input: MakeCredentialInput): MadeCredential {
  const ek = input.ekPublic instanceof Uint8Array ? parsePublic(input.ekPublic) : input.ekPublic;
  const nameAlg: HashAlgName = ek.nameAlg;
  if (input.secret.length > digestSize(nameAlg)) throw new RangeError(`secret of ${input.secret.length} bytes exceeds ${digestSize(nameAlg)}`);
  const keyBits = symmetricKeyBits(ek);
  const { seed, encrypted } = ek.type === 'rsa' ? rsaSeed(ek) : eccSeed(ek);
  const symKey = kdfa(nameAlg, seed, 'STORAGE', [input.akName, new Uint8Array(0)], keyBits);
  const hmacKey = kdfa(nameAlg, seed, 'INTEGRITY', [new Uint8Array(0), new Uint8Array(0)], digestSize(nameAlg) * 8);
  const cipher = createCipheriv(`aes-${keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(input.secret)), cipher.final()]);
  const integrity = createHmac(nameAlg, hmacKey).update(encIdentity).update(input.akName).digest();
  return {
    credentialBlob: tpm2b(new ByteWriter().tpm2b(integrity).bytes(encIdentity).finish()),
    encryptedSecret: tpm2b(encrypted),
  };
}
