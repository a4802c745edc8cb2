import type { KeyObject } from 'node:crypto';
import { ownedCopy } from '../binary/bytes.js';
import { publicKeyObject } from './key-object.js';
import { tpmObjectName } from './name.js';
import { parsePublic, type TpmPublic } from './public.js';

/** An AK parsed and converted once, reusable across quote verifications. */
export interface PreparedAk {
  readonly kind: 'PreparedAk';
  readonly public: TpmPublic;
  readonly key: KeyObject;
  /** nameAlg || H(TPMT_PUBLIC). */
  readonly name: Buffer;
}

/** Keyed by the caller's object; for bytes the content is compared too, so a reused, rewritten Buffer is not trusted. */
const cache = new WeakMap<object, { prepared: PreparedAk; copy?: Buffer }>();

/**
 * Parses an AK (TPM2B_PUBLIC bytes or a parsed public area) and builds its KeyObject. The result is
 * cached per input object, so passing the same Buffer again costs one WeakMap lookup. Given bytes,
 * the result views a copy of its own (see ownedCopy): it is kept as long as the node is attested,
 * and the caller rewriting its Buffer cannot change it. Throws only ParseError.
 */
export function prepareAk(akPublic: Uint8Array | TpmPublic | PreparedAk): PreparedAk {
  if ('kind' in akPublic && akPublic.kind === 'PreparedAk') return akPublic;
  const bytes = akPublic instanceof Uint8Array ? akPublic : undefined;
  const hit = cache.get(akPublic);
  if (hit && (bytes === undefined || hit.copy?.equals(bytes))) return hit.prepared;
  const copy = bytes && ownedCopy(bytes);
  const pub = copy ? parsePublic(copy) : (akPublic as TpmPublic);
  const prepared: PreparedAk = { kind: 'PreparedAk', public: pub, key: publicKeyObject(pub), name: ownedCopy(tpmObjectName(pub)) };
  cache.set(akPublic, copy ? { prepared, copy } : { prepared });
  return prepared;
}
