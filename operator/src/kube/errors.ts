/**
 * The one place Kubernetes client errors are normalised (STYLE: KubeError{status}). client-node
 * 1.x throws `ApiException` {code, body (string or object)}; kubernetes-fluent-client throws
 * response-like objects {status, statusText, data}; network errors are plain Errors.
 */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  readonly code = 'KubeError' as const;

  constructor(
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    /** metav1.Status reason (NotFound, Conflict, AlreadyExists, ...) or '' when unknown. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

function statusBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === 'object' && parsed !== null ? (parsed) : { message: body };
    } catch {
      return { message: body };
    }
  }
  return typeof body === 'object' && body !== null ? (body) : {};
}

/** Turn anything a Kubernetes client threw into a KubeError. */
export function toKubeError(e: unknown): KubeError {
  if (e instanceof KubeError) return e;
  const o = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
  const status = typeof o['code'] === 'number' ? o['code'] : typeof o['status'] === 'number' ? o['status'] : 0;
  const body = statusBody(o['body'] ?? o['data']);
  const reason = typeof body.reason === 'string' ? body.reason : '';
  const detail = typeof body.message === 'string' ? body.message : e instanceof Error ? e.message : String(e);
  return new KubeError(status, reason, `kubernetes API ${status || 'request'} ${reason}: ${detail}`.replace(/\s+/g, ' ').slice(0, 1000));
}

export function isNotFound(e: unknown): boolean {
  return toKubeError(e).status === 404;
}
export function isConflict(e: unknown): boolean {
  return toKubeError(e).status === 409;
}
/** 429: for an eviction, a PodDisruptionBudget refuses it now (kubectl drain retries). */
export function isTooManyRequests(e: unknown): boolean {
  return toKubeError(e).status === 429;
}
export function isAlreadyExists(e: unknown): boolean {
  const k = toKubeError(e);
  return k.status === 409 && k.reason === 'AlreadyExists';
}

/** Run a call, rethrowing any failure as a KubeError. */
export async function kubeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toKubeError(e);
  }
}
