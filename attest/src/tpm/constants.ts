/** TPM 2.0 Part 2 constants used by the structures in this folder (TPM_ALG_ID, TPM_ST, TPM_ECC_CURVE, TPMA_OBJECT). */

/** TPM_ALG_ID values beyond the hash algorithms in ../hash-alg.ts (Part 2, 6.3). */
export const ALG = {
  RSA: 0x0001,
  HMAC: 0x0005,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  NULL: 0x0010,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CFB: 0x0043,
} as const;

/** TPM_ST structure tags of TPMS_ATTEST (Part 2, 6.9). */
export const TPM_ST = {
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
} as const;

/** TPM_GENERATED_VALUE: every TPMS_ATTEST a TPM produces starts with "\xffTCG". */
export const TPM_GENERATED_VALUE = 0xff544347;

/** TPM_ECC_CURVE ids of the NIST curves node can verify with (Part 2, 6.4). */
export const ECC_CURVE = {
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
} as const;

export type NodeCurve = 'P-256' | 'P-384' | 'P-521';

const curves: Record<number, { jwk: NodeCurve; size: number }> = {
  [ECC_CURVE.NIST_P256]: { jwk: 'P-256', size: 32 },
  [ECC_CURVE.NIST_P384]: { jwk: 'P-384', size: 48 },
  [ECC_CURVE.NIST_P521]: { jwk: 'P-521', size: 66 },
};

/** The JWK curve name and coordinate size of a TPM curve id, or undefined when unsupported. */
export function eccCurve(id: number): { jwk: NodeCurve; size: number } | undefined {
  return curves[id];
}

/** TPMA_OBJECT bits (Part 2, 8.3). */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;
