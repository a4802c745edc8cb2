import type { HashAlgName } from './hash-alg.js';
import type { Hex } from './wire.js';

/**
 * The PCR vocabulary every package uses: the banks an agent quotes, the values by bank and index, the
 * selection by bank, and the PCRs with a fixed meaning. Nothing here says whether values are trusted:
 * that is `Verified<T>`'s job (see verified.ts).
 */

/** The PCR banks a quote may use (TPM 2.0 banks the agent and the operator support). */
export type BankName = 'sha1' | 'sha256' | 'sha384';

/** Every bank, in the order the agent selects them in a TPML_PCR_SELECTION. */
export const BANK_NAMES: readonly BankName[] = ['sha1', 'sha256', 'sha384'];

export function isBankName(s: string): s is BankName {
  return (BANK_NAMES as readonly string[]).includes(s);
}

/**
 * PCR values: bank → PCR index (decimal, as JSON keys are) → value. Bytes once decoded, `Hex` on the
 * wire and in policies. Replayed event logs may also hold banks outside BankName (`B = HashAlgName`).
 */
export type PcrValues<V extends Uint8Array | Hex = Uint8Array, B extends HashAlgName = BankName> = Partial<Record<B, Record<string, V>>>;

/** PCR indices per bank: what a policy selects and a quote request asks for. */
export type PcrSelection<B extends HashAlgName = BankName> = Partial<Record<B, readonly number[]>>;

/** The PCRs the firmware and boot loader measure into and IMA's boot_aggregate covers: 0 to 9. */
export const BOOT_PCRS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** The PCR IMA extends (CONFIG_IMA_MEASURE_PCR_IDX). */
export const IMA_PCR = 10;

/** The bank boot PCRs are read from when several are quoted: the first of these that is present. */
export const BOOT_BANK_PREFERENCE: readonly BankName[] = ['sha256', 'sha384', 'sha1'];
