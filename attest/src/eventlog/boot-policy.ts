import { failure, type Failure } from '../failure.js';
import type { BankName, PcrValues } from '../pcr.js';
import type { Hex } from '../wire.js';
import { EV } from './event-types.js';
import { normalizeHex, toHex } from './hex.js';
import { kernelCmdlineParams, splitBoundClaims } from './kernel-cmdline.js';
import { secureBootState } from './secure-boot.js';
import type { VerifiedEventLog } from './verify-event-log.js';

/** The measured-boot part of a NodeAttestationPolicy. Every field is optional; absent means "not checked". */
export interface BootPolicy {
  /** PCR 7 must record SecureBoot=1. */
  secureBootRequired?: boolean;
  /** Every EFI boot application (PCR 4: shim, grub, kernel…) must have one of these digests in `bank`. */
  allowedBootDigests?: { bank: BankName; digests: Hex[] };
  /** Every measured kernel command line must hold each term: `x=` matches any `x=…`, anything else matches exactly. */
  requiredKernelCmdline?: string[];
  /** Exact PCR values, per bank, index → hex. */
  expectedPcrs?: PcrValues<Hex>;
}

function checkSecureBoot(log: VerifiedEventLog): Failure[] {
  const state = secureBootState(log);
  if (state === 'enabled') return [];
  if (state === 'disabled') return [failure('bootlog.secure_boot_disabled', 'PCR 7 records Secure Boot disabled')];
  return [failure('bootlog.secure_boot_unknown', 'PCR 7 holds no verifiable SecureBoot variable measurement')];
}

function checkBootDigests(log: VerifiedEventLog, allowed: NonNullable<BootPolicy['allowedBootDigests']>): Failure[] {
  const { bank } = allowed;
  if (!log.banks.includes(bank)) {
    return [failure('bootlog.bank_unverified', `the ${bank} bank was not verified against a quote`, { bank })];
  }
  const set = new Set(allowed.digests.map((d) => normalizeHex(d)));
  const apps = log.events.filter((e) => e.pcr === 4 && e.type === EV.EFI_BOOT_SERVICES_APPLICATION);
  if (apps.length === 0) return [failure('bootlog.boot_application_missing', 'no EFI boot application is measured in a quoted PCR 4')];
  return apps.flatMap((e) => {
    const d = e.digests.find((x) => x.alg === bank)?.digest;
    const digest = d ? toHex(d) : 'absent';
    if (set.has(digest)) return [];
    const path = e.decoded.kind === 'efi-image' ? (e.decoded.filePath ?? '') : '';
    return [failure('bootlog.boot_digest_not_allowed', `boot application ${path || `#${e.index}`} has ${bank} digest ${digest}, not allowed`, { event: e.index, bank, digest, path })];
  });
}

function termPresent(params: readonly string[], term: string): boolean {
  return term.endsWith('=') ? params.some((p) => p.startsWith(term) && p.length > term.length) : params.includes(term);
}

function checkCmdline(log: VerifiedEventLog, terms: readonly string[]): Failure[] {
  const { bound, unbound } = splitBoundClaims(log);
  const out = unbound.map((c) =>
    failure('bootlog.cmdline_unbound', `event #${c.event.index} shows a kernel command line its digest does not cover`, { event: c.event.index }),
  );
  if (bound.length === 0) return [...out, failure('bootlog.cmdline_missing', 'no kernel command line is measured in a quoted PCR')];
  for (const c of bound) {
    const params = kernelCmdlineParams(c.cmdline);
    for (const term of terms.filter((t) => !termPresent(params, t))) {
      out.push(failure('bootlog.cmdline_term_missing', `kernel command line of event #${c.event.index} lacks ${term}`, { event: c.event.index, term }));
    }
  }
  return out;
}

function checkExpectedPcrs(log: VerifiedEventLog, expected: NonNullable<BootPolicy['expectedPcrs']>): Failure[] {
  const out: Failure[] = [];
  for (const [bank, values] of Object.entries(expected) as [BankName, Record<string, Hex>][]) {
    for (const [index, want] of Object.entries(values)) {
      const got = log.pcrs[bank]?.[String(Number(index))];
      if (got === undefined) {
        out.push(failure('bootlog.pcr_unverified', `${bank} PCR ${index} was not verified against a quote`, { bank, pcr: index }));
      } else if (got !== normalizeHex(want)) {
        out.push(failure('bootlog.pcr_unexpected', `${bank} PCR ${index} is ${got}, policy expects ${want}`, { bank, pcr: index, actual: got, expected: want }));
      }
    }
  }
  return out;
}

/** Checks a verified boot log against the policy; returns every failure (empty means compliant). */
export function verifyBootPolicy(log: VerifiedEventLog, policy: BootPolicy): Failure[] {
  return [
    ...(policy.secureBootRequired === true ? checkSecureBoot(log) : []),
    ...(policy.allowedBootDigests ? checkBootDigests(log, policy.allowedBootDigests) : []),
    ...(policy.requiredKernelCmdline ? checkCmdline(log, policy.requiredKernelCmdline) : []),
    ...(policy.expectedPcrs ? checkExpectedPcrs(log, policy.expectedPcrs) : []),
  ];
}
