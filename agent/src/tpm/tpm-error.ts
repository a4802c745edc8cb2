/** A TPM or tpm2-tools failure: the API answers 503, metrics count it. */
export class TpmError extends Error {
  readonly code = 'TpmError' as const;
  constructor(readonly tool: string, readonly detail: string) {
    super(`${tool}: ${detail}`);
    this.name = 'TpmError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function isTpmError(e: unknown): e is TpmError {
  return e instanceof TpmError;
}
