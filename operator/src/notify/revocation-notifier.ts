import http from 'node:http';
import https from 'node:https';
import type { Failure } from '@nodeward/attest';
import type { RoundMetrics } from '../round/round-metrics.js';
import { defaultRoundMetrics } from '../round/round-metrics.js';

/** The JSON body POSTed to each webhook URL (as Keylime's revocation notifier users expect). */
export interface RevocationNotice {
  type: 'revocation' | 'recovery';
  node: string;
  policy: string;
  /** Failure ids (`component.event`) behind a revocation; empty for a recovery. */
  reasons: string[];
  /** ISO 8601. */
  time: string;
}

export function revocationNotice(type: RevocationNotice['type'], node: string, policy: string, failures: readonly Failure[], at: Date): RevocationNotice {
  return { type, node, policy, reasons: [...new Set(failures.map((f) => f.id))], time: at.toISOString() };
}

export interface NotifierLog {
  warn(msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
}

export interface RevocationNotifierOptions {
  /** http:// or https:// URLs; each notice goes to every one. */
  urls: readonly string[];
  /** Attempts per URL and notice. Default 5. */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt up to maxBackoffMs. Defaults 500 ms and 30 s. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per-attempt deadline. Default 5000 ms. */
  timeoutMs?: number;
  /** Deliveries held (queued or waiting to retry); beyond it the oldest queued is dropped. Default 1000. */
  maxQueue?: number;
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number;
  /** Extra CA (PEM) for https webhooks; extra headers (e.g. authorization). */
  ca?: string | Buffer;
  headers?: Record<string, string>;
  metrics?: RoundMetrics;
  log?: NotifierLog;
}

interface Delivery { url: string; body: string; attempt: number }

/**
 * Fire-and-forget webhook notices: `notify` queues and returns at once, so enforcement never waits.
 * Each delivery is retried with exponential backoff on network errors, timeouts, 408, 429 and 5xx;
 * other statuses are final. The queue is bounded; overflow drops the oldest undelivered notice.
 */
export class RevocationNotifier {
  private readonly queue: Delivery[] = [];
  private readonly retrying = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly metrics: RoundMetrics;
  private readonly o: Required<Pick<RevocationNotifierOptions, 'maxAttempts' | 'backoffMs' | 'maxBackoffMs' | 'timeoutMs' | 'maxQueue' | 'concurrency'>>;

  constructor(private readonly opts: RevocationNotifierOptions) {
    this.metrics = opts.metrics ?? defaultRoundMetrics();
    this.o = {
      maxAttempts: opts.maxAttempts ?? 5, backoffMs: opts.backoffMs ?? 500, maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      timeoutMs: opts.timeoutMs ?? 5000, maxQueue: opts.maxQueue ?? 1000, concurrency: opts.concurrency ?? 4,
    };
  }

  /** Queues the notice for every URL; never throws, never waits. */
  notify(notice: RevocationNotice): void {
    if (this.closed) return;
    const body = JSON.stringify(notice);
    for (const url of this.opts.urls) this.enqueue({ url, body, attempt: 0 });
    this.pump();
  }

  /** Resolves when nothing is queued, in flight or waiting to retry (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops everything pending and accepts no more notices. */
  close(): void {
    this.closed = true;
    for (const t of this.retrying) clearTimeout(t);
    this.retrying.clear();
    this.queue.length = 0;
    this.checkIdle();
  }

  private pending(): number {
    return this.queue.length + this.inFlight + this.retrying.size;
  }

  private enqueue(d: Delivery): void {
    if (this.pending() >= this.o.maxQueue) {
      const dropped = this.queue.shift();
      this.metrics.notices.inc({ result: 'dropped' });
      this.opts.log?.warn('revocation notice dropped: queue full', { url: dropped?.url ?? d.url });
      if (dropped === undefined) return;
    }
    this.queue.push(d);
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.o.concurrency && this.queue.length > 0) {
      const d = this.queue.shift()!;
      this.inFlight++;
      void this.deliver(d).finally(() => {
        this.inFlight--;
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const verdict = await this.post(d);
    if (verdict === 'ok') {
      this.metrics.notices.inc({ result: 'delivered' });
      return;
    }
    if (verdict === 'final' || d.attempt + 1 >= this.o.maxAttempts || this.closed) {
      this.metrics.notices.inc({ result: 'failed' });
      this.opts.log?.warn('revocation notice not delivered', { url: d.url, attempts: d.attempt + 1 });
      return;
    }
    const delay = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** d.attempt);
    const timer = setTimeout(() => {
      this.retrying.delete(timer);
      this.queue.push({ ...d, attempt: d.attempt + 1 });
      this.pump();
    }, delay);
    timer.unref();
    this.retrying.add(timer);
  }

  /** One POST: 'ok' on 2xx, 'final' on a status not worth retrying, 'retry' otherwise. */
  private post(d: Delivery): Promise<'ok' | 'final' | 'retry'> {
    return new Promise((resolve) => {
      const url = new URL(d.url);
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, {
        method: 'POST', timeout: this.o.timeoutMs, ...(this.opts.ca !== undefined && { ca: this.opts.ca }),
        headers: { ...this.opts.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(d.body) },
      }, (res) => {
        res.resume();
        const s = res.statusCode ?? 0;
        resolve(s >= 200 && s < 300 ? 'ok' : s === 408 || s === 429 || s >= 500 ? 'retry' : 'final');
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve('retry'));
      req.end(d.body);
    });
  }

  private checkIdle(): void {
    if (this.pending() !== 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
