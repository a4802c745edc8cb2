/** The only error a parser may throw: which structure was malformed, and where. */
export class ParseError extends Error {
  readonly code = 'ParseError' as const;
  constructor(
    readonly structure: string,
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`${structure} at offset ${offset}: ${detail}`);
    this.name = 'ParseError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function isParseError(e: unknown): e is ParseError {
  return e instanceof ParseError;
}
