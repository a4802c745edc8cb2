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

/** TCG EK Credential Profile default RSA/ECC EK template: fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt. */
const EK_TEMPLATE_ATTRIBUTES = 0x000300b2;
/** sha256 PolicySecret(TPM_RH_ENDORSEMENT): the EK template's authPolicy. */
const EK_TEMPLATE_POLICY = '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa';
const TPM_ALG_SHA256 = 0x000b;

/**
 * Whether a TPM2B_PUBLIC is an RSA key made from the TCG default EK template (sha256 name, the
 * template's attributes and authPolicy). The operator still checks it against the EK certificate.
 */
export function isRsaTemplateEk(tpm2bPublic: Buffer): boolean {
  // size u16 | type u16 | nameAlg u16 | objectAttributes u32 | authPolicy (u16 size | bytes)
  if (summarizePublic(tpm2bPublic)?.type !== 'rsa' || tpm2bPublic.length < 12) return false;
  const policySize = tpm2bPublic.readUInt16BE(10);
  if (tpm2bPublic.length < 12 + policySize) return false;
  return tpm2bPublic.readUInt16BE(4) === TPM_ALG_SHA256 && tpm2bPublic.readUInt32BE(6) === EK_TEMPLATE_ATTRIBUTES &&
    tpm2bPublic.subarray(12, 12 + policySize).toString('hex') === EK_TEMPLATE_POLICY;
}

export function summarizePublic(tpm2bPublic: Buffer): PublicSummary | undefined {
  // TPM2B_PUBLIC: size u16 | type u16 | nameAlg u16 | objectAttributes u32 | ...
  if (tpm2bPublic.length < 10 || tpm2bPublic.readUInt16BE(0) !== tpm2bPublic.length - 2) return undefined;
  const alg = tpm2bPublic.readUInt16BE(2);
  const attrs = tpm2bPublic.readUInt32BE(6);
  const type = alg === TPM_ALG_RSA ? 'rsa' : alg === TPM_ALG_ECC ? 'ecc' : 'other';
  return { type, restricted: (attrs & RESTRICTED) !== 0, sign: (attrs & SIGN) !== 0 };
}
