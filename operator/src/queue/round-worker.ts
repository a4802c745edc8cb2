import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { RoundOutcome, RoundOutcomeHandler } from '../ports.js';
import type { RoundMetrics } from '../round/round-metrics.js';
import { defaultRoundMetrics } from '../round/round-metrics.js';
import type { QueueLog } from './bull-round-scheduler.js';
import { queueLagMs, ROUND_QUEUE, ROUND_QUEUE_PREFIX, type RoundJobData } from './round-job.js';

export interface RoundWorkerOptions {
  connection: ConnectionOptions;
  /** Default `nodeward-rounds`. */
  queueName?: string;
  /** BullMQ key prefix. Default `nodeward`. */
  prefix?: string;
  /** Rounds run at once by this replica. Default 4. */
  concurrency?: number;
  /** One round for a node, e.g. `(n) => runRound(n, deps)`; undefined when skipped. */
  runRound: (nodeName: string) => Promise<RoundOutcome | undefined>;
  onOutcome: RoundOutcomeHandler;
  metrics?: RoundMetrics;
  log?: QueueLog & { error(msg: string, fields?: Record<string, string | number | boolean | undefined>): void };
  /** Default Date.now. */
  now?: () => number;
}

/**
 * Processes round jobs: runs the node's round and hands the outcome to the control plane. Runs in
 * every replica; BullMQ's job lock keeps a job on one worker. A round is never retried (a failed
 * or stalled job is dropped; the next tick is the retry), and its failures are logged, not thrown.
 */
export class RoundWorker {
  readonly worker: Worker<RoundJobData, void>;
  private readonly opts: RoundWorkerOptions;
  private readonly metrics: RoundMetrics;

  constructor(opts: RoundWorkerOptions) {
    this.opts = opts;
    this.metrics = opts.metrics ?? defaultRoundMetrics();
    this.worker = new Worker<RoundJobData, void>(opts.queueName ?? ROUND_QUEUE, (job) => this.process(job), {
      connection: opts.connection, prefix: opts.prefix ?? ROUND_QUEUE_PREFIX, concurrency: opts.concurrency ?? 4,
      maxStalledCount: 0,
    });
    this.worker.on('error', (e: Error) => opts.log?.warn('round worker: redis error', { error: e.message }));
  }

  async close(): Promise<void> {
    await this.worker.close();
  }

  private async process(job: Job<RoundJobData, void>): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    this.metrics.queueLagSeconds.observe(queueLagMs(job, now) / 1000);
    const nodeName = typeof job.data?.nodeName === 'string' ? job.data.nodeName : job.repeatJobKey;
    if (nodeName === undefined) {
      this.opts.log?.warn('round job without a node name dropped', { job: job.id });
      return;
    }
    try {
      const outcome = await this.opts.runRound(nodeName);
      if (outcome !== undefined) await this.opts.onOutcome(outcome);
    } catch (e) {
      this.opts.log?.error('round failed', { node: nodeName, error: e instanceof Error ? e.message : String(e) });
    }
  }
}
