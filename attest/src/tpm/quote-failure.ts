import type { Failure } from '../failure.js';

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
  | 'PcrDigestMismatch';

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
} as const satisfies Record<QuoteFailureKind, Failure['id']>;

/** A Failure that also names its kind, so callers can switch on it without parsing ids. */
export interface QuoteFailure extends Failure {
  readonly kind: QuoteFailureKind;
  readonly id: (typeof QUOTE_FAILURE_IDS)[QuoteFailureKind];
}

export function quoteFailure(kind: QuoteFailureKind, message: string, context?: Failure['context']): QuoteFailure {
  const id = QUOTE_FAILURE_IDS[kind];
  return context === undefined ? { kind, id, message } : { kind, id, message, context };
}
