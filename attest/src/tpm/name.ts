import { ByteReader } from '../binary/reader.js';
import { hash, hashAlgId } from '../hash-alg.js';
import { readHashAlg } from './hash-alg-field.js';
import type { TpmPublic } from './public.js';

/**
 * The TPM object Name: nameAlg (u16) || H_nameAlg(TPMT_PUBLIC). Takes a parsed public area or the
 * TPMT_PUBLIC bytes (not TPM2B_PUBLIC: use parsePublic first). Throws only ParseError.
 */
export function tpmObjectName(publicArea: Uint8Array | TpmPublic): Buffer {
  if (!(publicArea instanceof Uint8Array)) {
    return Buffer.concat([Buffer.of(hashAlgId(publicArea.nameAlg) >> 8, hashAlgId(publicArea.nameAlg) & 0xff), hash(publicArea.nameAlg, publicArea.raw)]);
  }
  const r = new ByteReader(publicArea, 'TPMT_PUBLIC');
  r.u16be('type');
  const at = r.offset;
  const alg = readHashAlg(r, 'nameAlg');
  return Buffer.concat([publicArea.subarray(at, at + 2), hash(alg, publicArea)]);
}
