import { createHash } from 'node:crypto';

/**
 * IMA file signatures (the `sig` field of ima-sig entries: the file's security.ima xattr), format
 * v2 as linux security/integrity/integrity.h `struct signature_v2_hdr` lays it out:
 *   type u8 (3, EVM_IMA_XATTR_DIGSIG) | version u8 (2) | hash_algo u8 (include/uapi/linux/hash_info.h)
 *   | keyid u32be | sig_size u16be | signature (sig_size bytes: PKCS#1 v1.5 for RSA, DER for ECDSA)
 * The signature is over the file digest itself (the kernel verifies it as a prehashed digest).
 */

/** The file digest algorithms a signature is accepted for; md5, sha1 and the rest fall back to the digest list. */
export type ImaSignatureHashAlg = 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** hash_info.h numbers of the accepted algorithms. */
const HASH_ALGO: Readonly<Record<number, ImaSignatureHashAlg>> = { 4: 'sha256', 5: 'sha384', 6: 'sha512', 7: 'sha224' };
const DIGEST_SIZE: Readonly<Record<ImaSignatureHashAlg, number>> = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

const EVM_IMA_XATTR_DIGSIG = 3;
const HEADER = 9;

export interface ImaSignature {
  readonly hashAlg: ImaSignatureHashAlg;
  /** Last four bytes of the SHA-1 of the signer's public key (see imaKeyId), or what the signer set. */
  readonly keyId: number;
  readonly signature: Uint8Array;
}

/** The signature, or why it cannot be one (a short phrase for failure messages). Pure. */
export function parseImaSignature(bytes: Uint8Array): ImaSignature | string {
  if (bytes.length < HEADER) return `${bytes.length} bytes, shorter than the 9-byte header`;
  if (bytes[0] !== EVM_IMA_XATTR_DIGSIG) return `type ${bytes[0]} is not an IMA digital signature (3)`;
  if (bytes[1] !== 2) return `version ${bytes[1]} is not 2`;
  const hashAlg = HASH_ALGO[bytes[2]!];
  if (hashAlg === undefined) return `hash_algo ${bytes[2]} is not sha224, sha256, sha384 or sha512`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getUint16(7);
  if (size !== bytes.length - HEADER) return `sig_size ${size} but ${bytes.length - HEADER} signature bytes follow`;
  if (size === 0) return 'empty signature';
  return { hashAlg, keyId: view.getUint32(3), signature: bytes.subarray(HEADER) };
}

export function imaSignatureDigestSize(alg: ImaSignatureHashAlg): number {
  return DIGEST_SIZE[alg];
}

/**
 * The v2 key id of a public key as evmctl and the kernel compute it: the last four bytes of the SHA-1
 * of the RSA key in PKCS#1 DER, or of the EC point uncompressed (X9.62).
 */
export function imaKeyId(publicKeyBytes: Uint8Array): number {
  return createHash('sha1').update(publicKeyBytes).digest().readUInt32BE(16);
}

export const hex8 = (keyId: number): string => keyId.toString(16).padStart(8, '0');
