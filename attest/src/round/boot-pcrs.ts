import { hash } from '../hash-alg.js';
import { BOOT_BANK_PREFERENCE, BOOT_PCRS, type PcrValues } from '../pcr.js';
import type { Verified } from '../verified.js';
import type { Hex } from '../wire.js';

/**
 * Digest of the boot PCRs: SHA-256 over PCR 0 ‖ … ‖ PCR 9 (raw values) of the first bank, in the
 * order sha256, sha384, sha1, that has all ten. The operator fetches the event log only when this
 * changes, so verifyRound records exactly this value once a log has verified against the quote.
 */
export function bootPcrsDigest(pcrs: PcrValues): Hex | undefined {
  for (const bank of BOOT_BANK_PREFERENCE) {
    const values = BOOT_PCRS.map((i) => pcrs[bank]?.[String(i)]);
    if (values.every((v) => v !== undefined)) return hash('sha256', ...values).toString('hex');
  }
  return undefined;
}

/**
 * IMA's boot_aggregate candidates (hex) from verified boot PCRs: SHA-256 over PCRs 0-9 of the sha256 bank
 * (kernels ≥ 5.8 use the first allocated bank and PCRs 0-9), and SHA-1 over PCRs 0-7 of the sha1 bank
 * (older kernels).
 */
export function bootAggregates(pcrs: Verified<PcrValues>): string[] {
  const out: string[] = [];
  const s256 = BOOT_PCRS.map((i) => pcrs.sha256?.[String(i)]);
  if (s256.every((v) => v !== undefined)) out.push(`${hash('sha256', ...s256).toString('hex')}`);
  const s1 = BOOT_PCRS.slice(0, 8).map((i) => pcrs.sha1?.[String(i)]);
  if (s1.every((v) => v !== undefined)) out.push(`${hash('sha1', ...s1).toString('hex')}`);
  return out;
}
