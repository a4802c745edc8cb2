/** What a reconcile returns: done (wait for a change), or look again after a delay. */
export type ReconcileResult = { requeueAfterMs?: number } | void;
export type Reconciler = (key: string) => Promise<ReconcileResult>;

export interface WorkQueueOptions {
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  concurrency?: number;
  onError?: (key: string, e: unknown, attempt: number) => void;
}

/**
 * A small controller work queue (client-go style): keys are deduplicated, a key is never processed
 * twice at once (a key added while processing runs again afterwards), a throw retries the key with
 * per-key exponential backoff, and `requeueAfterMs` schedules another look.
 */
export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private stopped = false;
  private idle: (() => void)[] = [];

  constructor(private readonly reconcile: Reconciler, private readonly o: WorkQueueOptions = {}) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.pending.add(key);
    this.pump();
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const existing = this.timers.get(key);
    if (existing !== undefined) clearTimeout(existing);
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms));
  }

  /**
   * Add the key within `ms`: a key already waiting keeps its time, so a steady stream of calls adds it
   * once per `ms` (a throttle, where addAfter, restarting the wait, would never fire).
   */
  addWithin(key: string, ms: number): void {
    if (this.stopped || this.timers.has(key)) return;
    this.addAfter(key, ms);
  }

  size(): number {
    return this.pending.size + this.active.size;
  }

  /** Resolves when nothing is pending or running (tests). */
  drained(): Promise<void> {
    return this.size() === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
  }

  private pump(): void {
    const limit = this.o.concurrency ?? 4;
    while (this.running < limit && this.pending.size > 0) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      this.active.add(key);
      this.running += 1;
      void this.process(key);
    }
    if (this.size() === 0) for (const r of this.idle.splice(0)) r();
  }

  private async process(key: string): Promise<void> {
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (e) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.o.onError?.(key, e, attempt);
      this.addAfter(key, retryBackoffMs(attempt, this.o.baseBackoffMs ?? 200, this.o.maxBackoffMs ?? 60_000));
    } finally {
      this.active.delete(key);
      this.running -= 1;
      if (this.dirty.delete(key)) this.pending.add(key);
      this.pump();
    }
  }
}

/** Exponential backoff for the n-th consecutive failure of a key (1-based), capped. */
export function retryBackoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** (attempt - 1), maxMs);
}
