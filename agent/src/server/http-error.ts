/** An error the API answers with its own status and an ErrorResponse code. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'HttpError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export const badRequest = (code: string, message: string): HttpError => new HttpError(400, code, message);
