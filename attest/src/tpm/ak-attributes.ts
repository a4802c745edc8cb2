import { isParseError } from '../binary/parse-error.js';
import { failure, type Failure } from '../failure.js';
import { TPMA_OBJECT } from './constants.js';
import { parsePublic, type TpmPublic } from './public.js';

const REQUIRED: readonly [keyof typeof TPMA_OBJECT, Failure['id'], string][] = [
  ['restricted', 'identity.ak_not_restricted', 'the AK is not restricted: it could sign forged attestation structures'],
  ['sign', 'identity.ak_not_signing', 'the AK is not a signing key'],
  ['fixedTPM', 'identity.ak_not_fixed_tpm', 'the AK is not fixedTPM: it may have been duplicated from another TPM'],
  ['fixedParent', 'identity.ak_not_fixed_parent', 'the AK is not fixedParent'],
  ['sensitiveDataOrigin', 'identity.ak_not_sensitive_data_origin', 'the AK private key was not generated in the TPM'],
];

/**
 * Checks that a TPM2B_PUBLIC (or parsed public area) describes a proper attestation key: restricted
 * signing, fixedTPM, fixedParent, sensitiveDataOrigin, not decrypt. Returns every failure.
 */
export function verifyAkAttributes(akPublic: Uint8Array | TpmPublic): Failure[] {
  let pub: TpmPublic;
  try {
    pub = akPublic instanceof Uint8Array ? parsePublic(akPublic) : akPublic;
  } catch (e) {
    if (!isParseError(e)) throw e;
    return [failure('identity.ak_malformed', `AK public area: ${e.message}`, { structure: e.structure, offset: e.offset })];
  }
  const attrs = pub.objectAttributes;
  const out: Failure[] = [];
  for (const [bit, id, message] of REQUIRED) {
    if ((attrs & TPMA_OBJECT[bit]) === 0) out.push(failure(id, message, { objectAttributes: attrs }));
  }
  if ((attrs & TPMA_OBJECT.decrypt) !== 0) {
    out.push(failure('identity.ak_decrypt', 'the AK is also a decryption key', { objectAttributes: attrs }));
  }
  return out;
}
