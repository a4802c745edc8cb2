import type { ByteReader } from '../binary/reader.js';
import { hashAlgName, type HashAlgName } from '../hash-alg.js';

/** Reads a TPMI_ALG_HASH this library can compute; anything else is a ParseError at the field. */
export function readHashAlg(r: ByteReader, what: string): HashAlgName {
  const at = r.offset;
  const id = r.u16be(what);
  const name = hashAlgName(id);
  if (name === undefined) r.fail(`${what}: unsupported hash algorithm 0x${id.toString(16).padStart(4, '0')}`, at);
  return name;
}
