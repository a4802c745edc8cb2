import { failureFactory, type KindedFailure } from '../failure.js';

/** Why a quote was rejected. Each kind has one Failure id (`quote.*`). */
export type QuoteFailureKind =
  | 'Malformed'
  | 'BadMagic'
  | 'NotAQuote'
  | 'UnsupportedScheme'
  | 'WrongSigningKey'
  | 'BadSignature'
  | 'NonceMismatch'
  | 'MissingPcr'
  | 'BadPcrValue'
  | 'PcrDigestMismatch'
  | 'PcrNotQuoted'
  | 'PcrUnexpected'
  | 'ResetCountRegressed'
  | 'RestartCountRegressed'
  | 'ClockRegressed'
  | 'VerificationFailed';

export const QUOTE_FAILURE_IDS = {
  Malformed: 'quote.malformed',
  BadMagic: 'quote.bad_magic',
  NotAQuote: 'quote.not_a_quote',
  UnsupportedScheme: 'quote.unsupported_scheme',
  WrongSigningKey: 'quote.wrong_signing_key',
  BadSignature: 'quote.bad_signature',
  NonceMismatch: 'quote.nonce_mismatch',
  MissingPcr: 'quote.missing_pcr',
  BadPcrValue: 'quote.bad_pcr_value',
  PcrDigestMismatch: 'quote.pcr_digest_mismatch',
  /** The quote does not cover a PCR the policy selects. */
  PcrNotQuoted: 'quote.pcr_not_quoted',
  /** A quoted PCR differs from the policy's expected value. */
  PcrUnexpected: 'quote.pcr_unexpected',
  ResetCountRegressed: 'quote.reset_count_regressed',
  RestartCountRegressed: 'quote.restart_count_regressed',
  ClockRegressed: 'quote.clock_regressed',
  /** Fallback reason of a failed round without a listed failure. */
  VerificationFailed: 'quote.verification_failed',
} as const satisfies Record<QuoteFailureKind, `quote.${string}`>;

export type QuoteFailureId = (typeof QUOTE_FAILURE_IDS)[QuoteFailureKind];

/** A Failure that also names its kind, so callers can switch on it without parsing ids. */
export type QuoteFailure = KindedFailure<QuoteFailureKind, QuoteFailureId>;

export const quoteFailure = failureFactory(QUOTE_FAILURE_IDS);
