import { failureFactory, type KindedFailure } from '../failure.js';

/** Why a boot event log or the measured-boot policy failed. Each kind has one Failure id (`bootlog.*`). */
export type BootlogFailureKind =
  | 'Missing'
  | 'Malformed'
  | 'LogTooLarge'
  | 'NoCommonBank'
  | 'PcrMismatch'
  | 'PcrUnverified'
  | 'BankUnverified'
  | 'PcrUnexpected'
  | 'SecureBootDisabled'
  | 'SecureBootUnknown'
  | 'BootDigestNotAllowed'
  | 'BootApplicationMissing'
  | 'CmdlineMissing'
  | 'CmdlineTermMissing'
  | 'CmdlineUnbound';

export const BOOTLOG_FAILURE_IDS = {
  Missing: 'bootlog.missing',
  Malformed: 'bootlog.malformed',
  LogTooLarge: 'bootlog.log_too_large',
  NoCommonBank: 'bootlog.no_common_bank',
  PcrMismatch: 'bootlog.pcr_mismatch',
  PcrUnverified: 'bootlog.pcr_unverified',
  BankUnverified: 'bootlog.bank_unverified',
  PcrUnexpected: 'bootlog.pcr_unexpected',
  SecureBootDisabled: 'bootlog.secure_boot_disabled',
  SecureBootUnknown: 'bootlog.secure_boot_unknown',
  BootDigestNotAllowed: 'bootlog.boot_digest_not_allowed',
  BootApplicationMissing: 'bootlog.boot_application_missing',
  CmdlineMissing: 'bootlog.cmdline_missing',
  CmdlineTermMissing: 'bootlog.cmdline_term_missing',
  CmdlineUnbound: 'bootlog.cmdline_unbound',
} as const satisfies Record<BootlogFailureKind, `bootlog.${string}`>;

export type BootlogFailureId = (typeof BOOTLOG_FAILURE_IDS)[BootlogFailureKind];
export type BootlogFailure = KindedFailure<BootlogFailureKind, BootlogFailureId>;
export const bootlogFailure = failureFactory(BOOTLOG_FAILURE_IDS);
