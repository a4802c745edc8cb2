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
