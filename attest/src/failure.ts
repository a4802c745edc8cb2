/**
 * One reason evidence was rejected, as Keylime's Failure events: an id `component.event`
 * (e.g. `quote.nonce_mismatch`, `ima.digest_not_allowed`), a human message, and context.
 * Bad evidence is data: verifiers return lists of these, they do not throw.
 */
export type Component = 'quote' | 'identity' | 'ima' | 'bootlog' | 'verity' | 'agent' | 'policy' | 'join' | 'kubelet';

export interface Failure {
  readonly id: `${Component}.${string}`;
  readonly message: string;
  readonly context?: Readonly<Record<string, string | number | boolean>>;
}

export function failure(id: Failure['id'], message: string, context?: Failure['context']): Failure {
  return context === undefined ? { id, message } : { id, message, context };
}
