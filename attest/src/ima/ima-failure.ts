import { failureFactory, type KindedFailure } from '../failure.js';

/** Why IMA evidence was rejected. Each kind has one Failure id (`ima.*`). */
export type ImaFailureKind =
  | 'LogMissing'
  | 'LogTruncated'
  | 'MalformedLog'
  | 'LogTooLarge'
  | 'EntriesNotCovered'
  | 'UnsupportedTemplate'
  | 'TemplateHashMismatch'
  | 'LogHashAlgMismatch'
  | 'UnexpectedPcr'
  | 'Violation'
  | 'PcrNotQuoted'
  | 'PcrMismatch'
  | 'BankNotReplayed'
  | 'PathNotInPolicy'
  | 'DigestNotAllowed'
  | 'KeyringNotInPolicy'
  | 'KeyringDigestNotAllowed'
  | 'BufNotInPolicy'
  | 'BufDigestNotAllowed';

export const IMA_FAILURE_IDS = {
  LogMissing: 'ima.log_missing',
  LogTruncated: 'ima.log_truncated',
  MalformedLog: 'ima.malformed_log',
  LogTooLarge: 'ima.log_too_large',
  EntriesNotCovered: 'ima.entries_not_covered',
  UnsupportedTemplate: 'ima.unsupported_template',
  TemplateHashMismatch: 'ima.template_hash_mismatch',
  LogHashAlgMismatch: 'ima.log_hash_alg_mismatch',
  UnexpectedPcr: 'ima.unexpected_pcr',
  Violation: 'ima.violation',
  PcrNotQuoted: 'ima.pcr_not_quoted',
  PcrMismatch: 'ima.pcr_mismatch',
  BankNotReplayed: 'ima.bank_not_replayed',
  PathNotInPolicy: 'ima.path_not_in_policy',
  DigestNotAllowed: 'ima.digest_not_allowed',
  KeyringNotInPolicy: 'ima.keyring_not_in_policy',
  KeyringDigestNotAllowed: 'ima.keyring_digest_not_allowed',
  BufNotInPolicy: 'ima.buf_not_in_policy',
  BufDigestNotAllowed: 'ima.buf_digest_not_allowed',
} as const satisfies Record<ImaFailureKind, `ima.${string}`>;

export type ImaFailureId = (typeof IMA_FAILURE_IDS)[ImaFailureKind];
export type ImaFailure = KindedFailure<ImaFailureKind, ImaFailureId>;
export const imaFailure = failureFactory(IMA_FAILURE_IDS);
