/**
 * Trust in the types (go-attestation: ParseEventLog returns an unverified log, only Verify returns
 * trusted events). A `Verified<T>` is a T that a verify* function checked against evidence the TPM
 * signed; nothing else can make one, because the brand is a unique symbol this file never exports
 * and `verified()` is not part of the package's exports. Consumers that must only act on trusted
 * values take the branded type, so passing parsed (untrusted) data to them does not compile.
 *
 * Branded outputs: the quote (VerifiedQuote), the PCR values it covers (verifyRound's trusted PCRs,
 * which bootAggregates and verifyEventLogAgainstPcrs require), and the event log (VerifiedEventLog,
 * which the boot policy and kernel command line readers require).
 */
declare const verifiedBrand: unique symbol;

export type Verified<T> = T & { readonly [verifiedBrand]: true };

/** Brands a value; only verifiers in attest/ call this (attest's index does not export it). */
export function verified<T>(value: T): Verified<T> {
  return value as Verified<T>;
}
