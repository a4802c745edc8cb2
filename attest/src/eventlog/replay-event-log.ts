import { digestSize, extend, type HashAlgName } from '../hash-alg.js';
import type { PcrValues } from '../pcr.js';
import type { Hex } from '../wire.js';
import { EV } from './event-types.js';
import { toHex } from './hex.js';
import type { ParsedEventLog } from './parsed-event-log.js';

/**
 * The value a PCR holds after TPM2_Startup, before any extension: zero, except the locality in the
 * last byte of PCR 0 when the CRTM started from locality 3 or 4, and all-ones for the DRTM PCRs 17-22.
 */
export function initialPcrValue(alg: HashAlgName, index: number, startupLocality = 0): Uint8Array {
  const v = new Uint8Array(digestSize(alg));
  if (index >= 17 && index <= 22) v.fill(0xff);
  if (index === 0) v[v.length - 1] = startupLocality & 0xff;
  return v;
}

/**
 * Replays the log: extends every measured event's digest into its PCR, per bank. EV_NO_ACTION
 * events are never extended. Returns only the PCRs the log extends. This is a computation over
 * untrusted data; compare it with quoted PCRs (verifyEventLogAgainstPcrs) before trusting it.
 */
export function replayEventLog(parsed: ParsedEventLog): PcrValues<Hex, HashAlgName> {
  const out: PcrValues<Hex, HashAlgName> = {};
  for (const alg of parsed.banks) {
    const pcrs = new Map<number, Uint8Array>();
    for (const e of parsed.events) {
      if (e.type === EV.NO_ACTION) continue;
      const d = e.digests.find((x) => x.alg === alg);
      if (!d) continue;
      pcrs.set(e.pcr, extend(alg, pcrs.get(e.pcr) ?? initialPcrValue(alg, e.pcr, parsed.startupLocality), d.digest));
    }
    const bank: Record<string, Hex> = {};
    for (const i of [...pcrs.keys()].sort((a, b) => a - b)) bank[String(i)] = toHex(pcrs.get(i)!);
    out[alg] = bank;
  }
  return out;
}
