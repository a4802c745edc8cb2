import { hash as oneShot } from 'node:crypto';

/** TPM_ALG_ID values of the hash algorithms a PCR bank or a log may use (TPM 2.0 Part 2, 6.3). */
export const TPM_ALG = {
  SHA1: 0x0004,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  SM3_256: 0x0012,
} as const;

export type HashAlgName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const byName: Record<HashAlgName, { id: number; size: number }> = {
  sha1: { id: TPM_ALG.SHA1, size: 20 },
  sha256: { id: TPM_ALG.SHA256, size: 32 },
  sha384: { id: TPM_ALG.SHA384, size: 48 },
  sha512: { id: TPM_ALG.SHA512, size: 64 },
};

export const HASH_ALGS: readonly HashAlgName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

export function isHashAlgName(s: string): s is HashAlgName {
  return Object.prototype.hasOwnProperty.call(byName, s);
}

export function hashAlgId(name: HashAlgName): number {
  return byName[name].id;
}

export function digestSize(name: HashAlgName): number {
  return byName[name].size;
}

export function hashAlgName(id: number): HashAlgName | undefined {
  return HASH_ALGS.find((n) => byName[n].id === id);
}

/**
 * H(part1 || part2 || ...). One-shot: on Node 20 a Hash object (createHash/update/digest) costs several
 * times the hashing itself for inputs this small, and PCR digests are computed on every round.
 */
export function hash(alg: HashAlgName, ...parts: Uint8Array[]): Buffer {
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return oneShot(alg, data, 'buffer');
}

/** PCR extend: new = H(old || digest). */
export function extend(alg: HashAlgName, pcr: Uint8Array, digest: Uint8Array): Buffer {
  return hash(alg, pcr, digest);
}
