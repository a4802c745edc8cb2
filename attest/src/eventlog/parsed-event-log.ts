import type { HashAlgName } from '../hash-alg.js';

/**
 * What parseEventLog returns: the log as the node claims it. Nothing in here is trusted until
 * verifyEventLogAgainstPcrs has replayed it against quoted PCRs.
 */
export interface ParsedEventLog {
  readonly format: 'legacy-sha1' | 'crypto-agile';
  /** The Spec ID Event03 header of a crypto-agile log. */
  readonly specId?: SpecIdEvent;
  /** Banks this log carries digests for and that we can replay. */
  readonly banks: readonly HashAlgName[];
  /** Locality from a StartupLocality EV_NO_ACTION logged before any PCR 0 extension. */
  readonly startupLocality?: number;
  readonly events: readonly ParsedEvent[];
}

export interface ParsedEvent {
  /** Position in the log, 0-based (the Spec ID header of an agile log is event 0). */
  readonly index: number;
  /** Byte offset of the event's first field. */
  readonly offset: number;
  readonly pcr: number;
  readonly type: number;
  readonly digests: readonly EventDigest[];
  readonly data: Uint8Array;
  readonly decoded: DecodedEvent;
}

export interface EventDigest {
  readonly algId: number;
  /** Undefined for an algorithm the Spec ID declared but we do not replay (e.g. SM3_256). */
  readonly alg?: HashAlgName;
  readonly digest: Uint8Array;
}

/** TCG_EfiSpecIDEvent (PC Client PFP, 10.4.5.1). */
export interface SpecIdEvent {
  readonly platformClass: number;
  readonly specVersion: { readonly major: number; readonly minor: number; readonly errata: number };
  readonly uintnSize: number;
  readonly algorithms: readonly { readonly algId: number; readonly digestSize: number; readonly alg?: HashAlgName }[];
  readonly vendorInfo: Uint8Array;
}

/** The part of an event's data we understand; decoding is best-effort and never fails the log. */
export type DecodedEvent =
  | { readonly kind: 'none' }
  | { readonly kind: 'spec-id'; readonly specId: SpecIdEvent }
  | { readonly kind: 'startup-locality'; readonly locality: number }
  | { readonly kind: 'efi-variable'; readonly guid: string; readonly name: string; readonly value: Uint8Array }
  | { readonly kind: 'efi-image'; readonly length: bigint; readonly devicePath: Uint8Array; readonly filePath?: string }
  | { readonly kind: 'tagged'; readonly tagId: number; readonly tagData: Uint8Array; readonly text?: string }
  | { readonly kind: 'text'; readonly text: string; readonly encoding: 'ascii' | 'utf16le' }
  | { readonly kind: 'separator'; readonly value: number }
  | { readonly kind: 'malformed'; readonly detail: string };
