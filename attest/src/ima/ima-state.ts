import { failure, type Failure } from '../failure.js';
import { digestSize } from '../hash-alg.js';

export type ImaBank = 'sha1' | 'sha256';
export const IMA_BANKS: readonly ImaBank[] = ['sha1', 'sha256'];

/**
 * Where incremental verification stands: entries verified so far and PCR 10 after them (hex), for
 * each bank replayed. A round replays only the bank it checks against the quote, so its state holds
 * that bank alone; continuing in a bank the state lacks means starting again from entry 0.
 */
export interface ImaState {
  readonly count: number;
  readonly pcr10: { readonly sha1?: string; readonly sha256?: string };
}

/** Before the first entry: PCR 10 is all zeros in every bank. */
export const IMA_INITIAL_STATE: ImaState = Object.freeze({
  count: 0,
  pcr10: Object.freeze({ sha1: '00'.repeat(digestSize('sha1')), sha256: '00'.repeat(digestSize('sha256')) }),
});

export interface QuotedPcr10 {
  readonly bank: ImaBank;
  /** PCR 10 as quoted, hex. */
  readonly value: string;
}

/** Compares the replayed PCR 10 with the quoted one: [] or one `ima.pcr_mismatch`. */
export function verifyImaPcr10(state: ImaState, quoted: QuotedPcr10): Failure[] {
  const replayed = state.pcr10[quoted.bank];
  if (replayed === quoted.value.toLowerCase()) return [];
  if (replayed === undefined) {
    return [failure('ima.bank_not_replayed', `PCR 10 was not replayed in the ${quoted.bank} bank`, { bank: quoted.bank, count: state.count })];
  }
  return [failure('ima.pcr_mismatch', `PCR 10 (${quoted.bank}) replayed from ${state.count} entries is ${replayed}, quoted ${quoted.value}`,
    { bank: quoted.bank, replayed, quoted: quoted.value, count: state.count })];
}
