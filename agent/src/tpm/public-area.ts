/** The few TPM2B_PUBLIC fields the agent checks before reusing a persistent AK (full parsing lives in attest/). */
export interface PublicSummary {
  type: 'rsa' | 'ecc' | 'other';
  restricted: boolean;
  sign: boolean;
}

const TPM_ALG_RSA = 0x0001;
const TPM_ALG_ECC = 0x0023;
const RESTRICTED = 1 << 16;
const SIGN = 1 << 18;

export function summarizePublic(tpm2bPublic: Buffer): PublicSummary | undefined {
  // TPM2B_PUBLIC: size u16 | type u16 | nameAlg u16 | objectAttributes u32 | ...
  if (tpm2bPublic.length < 10 || tpm2bPublic.readUInt16BE(0) !== tpm2bPublic.length - 2) return undefined;
  const alg = tpm2bPublic.readUInt16BE(2);
  const attrs = tpm2bPublic.readUInt32BE(6);
  const type = alg === TPM_ALG_RSA ? 'rsa' : alg === TPM_ALG_ECC ? 'ecc' : 'other';
  return { type, restricted: (attrs & RESTRICTED) !== 0, sign: (attrs & SIGN) !== 0 };
}
