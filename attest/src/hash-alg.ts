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

/** Where several parts are joined before hashing; grows when needed, reused by every call. */
let joined = Buffer.alloc(24 * 64);

/**
 * H(part1 || part2 || ...), hashed one-shot over the parts joined in a reused buffer: on Node 20 a
 * Hash object fed part by part, or a fresh concatenation, costs more than the hashing itself for
 * inputs this small, and PCR digests are computed for every quote of every node.
 */
export function hash(alg: HashAlgName, ...parts: Uint8Array[]): Buffer {
  if (parts.length === 1) return oneShot(alg, parts[0]!, 'buffer');
  let total = 0;
  for (const p of parts) total += p.length;
  if (total > joined.length) joined = Buffer.alloc(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return oneShot(alg, joined.subarray(0, total), 'buffer');
}

/**
 * Whether H(data) equals `expected`. The one-shot digest is asked for as a latin1 ('binary') string and compared
 * in place: on Node 20 a Buffer result costs more than hashing a few hundred bytes (see Pcr10Replay).
 */
export function hashIs(alg: HashAlgName, data: Uint8Array, expected: Uint8Array): boolean {
  const d = oneShot(alg, data, 'binary');
  if (d.length !== expected.length) return false;
  for (let i = 0; i < d.length; i++) if (d.charCodeAt(i) !== expected[i]) return false;
  return true;
}

/** PCR extend: new = H(old || digest). */
export function extend(alg: HashAlgName, pcr: Uint8Array, digest: Uint8Array): Buffer {
  return hash(alg, pcr, digest);
}
