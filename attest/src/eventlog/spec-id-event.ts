import type { ByteReader } from '../binary/reader.js';
import { digestSize, hashAlgName } from '../hash-alg.js';
import type { SpecIdEvent } from './parsed-event-log.js';

const SIGNATURE = 'Spec ID Event03\0';
/** The TPM holds at most a handful of banks; a longer list is hostile. */
export const MAX_SPEC_ID_ALGORITHMS = 16;
/** Largest digest an undeclared-to-us algorithm may claim (SHA-512 is 64). */
export const MAX_DIGEST_SIZE = 64;

function hasSignature(data: Uint8Array, signature: string): boolean {
  if (data.length < signature.length) return false;
  for (let i = 0; i < signature.length; i++) if (data[i] !== signature.charCodeAt(i)) return false;
  return true;
}

/** True when event data starts with the crypto-agile `Spec ID Event03` signature. */
export function isSpecIdEvent03(data: Uint8Array): boolean {
  return hasSignature(data, SIGNATURE);
}

function parseAlgorithm(r: ByteReader, seen: Set<number>): SpecIdEvent['algorithms'][number] {
  const at = r.offset;
  const algId = r.u16le('digestSizes.algorithmId');
  const size = r.u16le('digestSizes.digestSize');
  if (seen.has(algId)) r.fail(`algorithm 0x${algId.toString(16)} listed twice`, at);
  seen.add(algId);
  const alg = hashAlgName(algId);
  if (alg !== undefined && size !== digestSize(alg)) r.fail(`${alg} digest size ${size}, expected ${digestSize(alg)}`, at);
  if (size === 0 || size > MAX_DIGEST_SIZE) r.fail(`digest size ${size} out of range`, at);
  return alg === undefined ? { algId, digestSize: size } : { algId, digestSize: size, alg };
}

/**
 * TCG_EfiSpecIDEvent: signature[16] "Spec ID Event03\0", platformClass u32, specVersionMinor u8,
 * specVersionMajor u8, specErrata u8, uintnSize u8, numberOfAlgorithms u32, digestSizes[n]
 * {algorithmId u16, digestSize u16}, vendorInfoSize u8, vendorInfo[]. All little-endian.
 * `r` spans exactly the event data (a sub-reader of the log, so offsets point into the file).
 */
export function parseSpecIdEvent(r: ByteReader): SpecIdEvent {
  const at = r.offset;
  if (!isSpecIdEvent03(r.bytes(16, 'signature'))) r.fail('signature is not "Spec ID Event03"', at);
  const platformClass = r.u32le('platformClass');
  const minor = r.u8('specVersionMinor');
  const major = r.u8('specVersionMajor');
  const errata = r.u8('specErrata');
  const uintnSize = r.u8('uintnSize');
  const count = r.u32le('numberOfAlgorithms');
  if (count === 0 || count > MAX_SPEC_ID_ALGORITHMS) {
    r.fail(`numberOfAlgorithms ${count} out of range 1..${MAX_SPEC_ID_ALGORITHMS}`, r.offset - 4);
  }
  const seen = new Set<number>();
  const algorithms: SpecIdEvent['algorithms'][number][] = [];
  for (let i = 0; i < count; i++) algorithms.push(parseAlgorithm(r, seen));
  const vendorInfoSize = r.u8('vendorInfoSize');
  const vendorInfo = r.bytes(vendorInfoSize, 'vendorInfo');
  r.expectEnd();
  return { platformClass, specVersion: { major, minor, errata }, uintnSize, algorithms, vendorInfo };
}
