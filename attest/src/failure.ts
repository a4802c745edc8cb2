import type { BootlogFailureId } from './eventlog/bootlog-failure.js';
import type { ImaFailureId } from './ima/ima-failure.js';
import type { IdentityFailureId } from './tpm/identity-failure.js';
import type { QuoteFailureId } from './tpm/quote-failure.js';
import type { VerityFailureId } from './verity/verity-failure.js';

/**
 * One reason evidence was rejected, as Keylime's Failure events: an id `component.event`
 * (e.g. `quote.nonce_mismatch`, `ima.digest_not_allowed`), a human message, and context.
 * Bad evidence is data: verifiers return lists of these, they do not throw.
 */
export type Component = 'quote' | 'identity' | 'ima' | 'bootlog' | 'verity' | 'agent' | 'policy' | 'join' | 'kubelet';

/** Components whose ids are not a closed table yet: any `agent.*`, `policy.*` or `join.*` id compiles. */
type OpenComponent = Exclude<Component, 'quote' | 'identity' | 'ima' | 'bootlog' | 'verity'>;

/**
 * Every failure id. The verifiers' components are closed unions (one table per component, e.g.
 * tpm/quote-failure.ts), so an id nobody declared does not compile.
 */
export type FailureId = QuoteFailureId | IdentityFailureId | ImaFailureId | BootlogFailureId | VerityFailureId | `${OpenComponent}.${string}`;

export interface Failure {
  readonly id: FailureId;
  readonly message: string;
  readonly context?: Readonly<Record<string, string | number | boolean>>;
}

export function failure(id: FailureId, message: string, context?: Failure['context']): Failure {
  return context === undefined ? { id, message } : { id, message, context };
}

/** The component of a failure id (the part before the first dot). */
export function componentOf(id: FailureId): Component {
  return id.slice(0, id.indexOf('.')) as Component;
}

/** A Failure that also names its kind, so callers can switch on it without parsing ids. */
export interface KindedFailure<K extends string, Id extends FailureId = FailureId> extends Failure {
  readonly kind: K;
  readonly id: Id;
}

/** The constructor of one component's failures from its `kind → id` table (see tpm/quote-failure.ts). */
export function failureFactory<K extends string, Id extends FailureId>(ids: Readonly<Record<K, Id>>): (kind: K, message: string, context?: Failure['context']) => KindedFailure<K, Id> {
  return (kind, message, context) => {
    const id = ids[kind];
    return context === undefined ? { kind, id, message } : { kind, id, message, context };
  };
}
