import { digestSize, type HashAlgName } from '../hash-alg.js';
import { failure, type Failure } from '../failure.js';
import type { PcrValues } from '../pcr.js';
import { verified, type Verified } from '../verified.js';
import type { Hex } from '../wire.js';
import { normalizeHex, toHex } from './hex.js';
import type { ParsedEvent, ParsedEventLog } from './parsed-event-log.js';
import { initialPcrValue, replayEventLog } from './replay-event-log.js';

/** The part of an event log that replayed to quoted PCR values. */
export interface EventLogEvidence {
  /** Banks whose replay matched the quote; only their digests are trustworthy. */
  readonly banks: readonly HashAlgName[];
  /** PCR values of the matched banks, for the quoted indices only. */
  readonly pcrs: PcrValues<Hex, HashAlgName>;
  /** Events in the quoted PCRs, in log order. Events of unquoted PCRs are left out: nothing vouches for them. */
  readonly events: readonly ParsedEvent[];
}

export type VerifiedEventLog = Verified<EventLogEvidence>;

export type EventLogVerdict =
  | { readonly ok: true; readonly log: VerifiedEventLog; readonly failures: readonly [] }
  | { readonly ok: false; readonly failures: readonly Failure[] };

function checkBank(parsed: ParsedEventLog, alg: HashAlgName, quoted: Record<string, Hex>, replayed: Record<string, Hex>): Failure[] {
  const out: Failure[] = [];
  for (const [index, value] of Object.entries(quoted)) {
    const i = Number(index);
    if (!/^\d+$/.test(index) || i > 23) {
      out.push(failure('bootlog.pcr_mismatch', `quoted PCR index ${index} is not 0-23`, { bank: alg, pcr: index }));
      continue;
    }
    const expected = replayed[String(i)] ?? toHex(initialPcrValue(alg, i, parsed.startupLocality));
    const got = normalizeHex(value);
    if (got === expected && got.length === digestSize(alg) * 2) continue;
    out.push(failure('bootlog.pcr_mismatch', `${alg} PCR ${i}: event log replays to ${expected}, quote has ${value}`, { bank: alg, pcr: i, replayed: expected, quoted: value }));
  }
  return out;
}

/**
 * Replays the log and compares every quoted PCR of every bank the log carries. All mismatches are
 * listed (as go-attestation's ReplayError does); only when there are none is the log trusted, and
 * then only for the quoted PCRs. `quoted` must come from a quote whose signature and nonce were
 * already verified.
 */
export function verifyEventLogAgainstPcrs(parsed: ParsedEventLog, quoted: Verified<PcrValues<Hex>>): EventLogVerdict {
  const replayed = replayEventLog(parsed);
  const failures: Failure[] = [];
  const banks: HashAlgName[] = [];
  const pcrs: PcrValues<Hex, HashAlgName> = {};
  const indices = new Set<number>();
  for (const alg of parsed.banks) {
    const q = (quoted as PcrValues<Hex, HashAlgName>)[alg];
    if (q === undefined || Object.keys(q).length === 0) continue;
    failures.push(...checkBank(parsed, alg, q, replayed[alg] ?? {}));
    banks.push(alg);
    pcrs[alg] = Object.fromEntries(Object.entries(q).map(([k, v]) => [String(Number(k)), v.toLowerCase()]));
    for (const k of Object.keys(q)) indices.add(Number(k));
  }
  if (banks.length === 0) {
    const have = parsed.banks.join(', ') || 'none';
    failures.push(failure('bootlog.no_common_bank', `no quoted PCR bank matches the event log's banks (${have})`));
  }
  if (failures.length > 0) return { ok: false, failures };
  const events = parsed.events.filter((e) => indices.has(e.pcr));
  return { ok: true, log: verified<EventLogEvidence>({ banks, pcrs, events }), failures: [] };
}
