import { hash, type HashAlgName } from '../hash-alg.js';
import type { ParsedEvent } from './parsed-event-log.js';

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * True when, in every given bank, the event's digest is the hash of `measured`. Replay proves the
 * digests; this proves the event data we read says what was actually measured (event data itself is
 * not covered by the PCRs and could otherwise be rewritten freely).
 */
export function digestBinds(event: ParsedEvent, banks: readonly HashAlgName[], measured: Uint8Array): boolean {
  if (banks.length === 0) return false;
  return banks.every((alg) => {
    const d = event.digests.find((x) => x.alg === alg);
    return d !== undefined && equal(d.digest, hash(alg, measured));
  });
}
