import https from 'node:https';

/** Where the API server is and how the bootstrap token reaches it. */
export interface ApiTarget {
  /** https://host:port */
  readonly server: string;
  readonly caPem: string;
  /** `<id>.<secret>` */
  readonly token: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Answers larger than this are refused (ours are a few KiB). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * One JSON request to the API server with the bootstrap token: the only calls a joining node makes
 * (create and get of its NodeJoinRequest and its CSR). The server's certificate is checked against
 * the cluster CA; the token never goes anywhere else.
 */
export function apiRequest<T>(target: ApiTarget, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const url = new URL(path, target.server);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      ca: target.caPem,
      timeout: timeoutMs,
      headers: {
        authorization: `Bearer ${target.token}`,
        accept: 'application/json',
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`${method} ${url.pathname}: answer over ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          reject(new ApiError(status, `${method} ${url.pathname}: ${status} ${statusMessage(text)}`));
          return;
        }
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          reject(new ApiError(status, `${method} ${url.pathname}: the answer is not JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function statusMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    return typeof m === 'string' ? m.slice(0, 500) : text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}
