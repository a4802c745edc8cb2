import https from 'node:https';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options for {@link pollUntil}. */
export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Called before each attempt; throwing aborts the wait (e.g. the process being waited for died). */
  readonly check?: () => void;
}

/**
 * Calls `probe` until it returns a value other than undefined, or throws when `timeoutMs` elapses, naming
 * `what` and the last probe error.
 */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, opts: PollOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  for (;;) {
    opts.check?.();
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError === '' ? '' : `: ${lastError}`}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** TLS settings for {@link probeOk}: the API server's CA and an admin client certificate, or none for liveness only. */
export type ProbeTls = { readonly ca: string; readonly cert: string; readonly key: string } | { readonly rejectUnauthorized: false };

/**
 * GETs `https://127.0.0.1:<port><endpoint>` once: true when it answers 200 "ok", a rejection naming the
 * endpoint, status and body tail otherwise (for {@link pollUntil}).
 */
export function probeOk(port: number, endpoint: string, tls: ProbeTls): Promise<true | undefined> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path: endpoint, timeout: 2000, ...tls }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode === 200 && body.trim() === 'ok') resolve(true);
        else reject(new Error(`${endpoint} ${String(response.statusCode)}: ${body.slice(-500)}`));
      });
    });
    request.on('timeout', () => request.destroy(new Error(`${endpoint} timed out`)));
    request.on('error', reject);
  });
}
