import { Queue, type ConnectionOptions } from 'bullmq';
import type { AttestationTarget, RoundScheduler } from '../ports.js';
import { jitterMs, ROUND_JOB, ROUND_QUEUE, ROUND_QUEUE_PREFIX, type RoundJobData } from './round-job.js';

/** Structured log sink (the operator's logger fits). */
export interface QueueLog {
  info(msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
  warn(msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
}

export interface BullRoundSchedulerOptions {
  /** ioredis options (host, port, …) or a client; BullMQ's ConnectionOptions. */
  connection: ConnectionOptions;
  /** Default `nodeward-rounds`. */
  queueName?: string;
  /** BullMQ key prefix. Default `nodeward`. */
  prefix?: string;
  /**
   * Called when the Redis connection is ready again after it was lost (Redis may have lost every
   * schedule): the leader should call `reconcileSchedules` with the targets from the CRs.
   */
  onReconnect?: () => void;
  log?: QueueLog;
}

export interface ReconcileResult {
  ensured: number;
  removed: string[];
}

/**
 * One BullMQ job scheduler per attested node, id = node name, repeating every `intervalMs` with a
 * per-node phase (`jitterMs`). Upserting an unchanged target is a no-op; a new interval or policy
 * replaces the schedule. Owned by the leader; workers in every replica process the jobs.
 */
export class BullRoundScheduler implements RoundScheduler {
  readonly queue: Queue<RoundJobData>;
  private readonly log: QueueLog | undefined;

  constructor(opts: BullRoundSchedulerOptions) {
    this.queue = new Queue<RoundJobData>(opts.queueName ?? ROUND_QUEUE, { connection: opts.connection, prefix: opts.prefix ?? ROUND_QUEUE_PREFIX });
    this.log = opts.log;
    this.queue.on('error', (e: Error) => this.log?.warn('round queue: redis error', { error: e.message }));
    this.watchReconnects(opts.onReconnect);
  }

  async ensure(target: AttestationTarget): Promise<void> {
    const { nodeName, policyName, intervalMs } = target;
    const every = Math.max(1, Math.round(intervalMs));
    const existing = await this.queue.getJobScheduler(nodeName);
    if (existing?.every === every && existing.template?.data?.policyName === policyName) return;
    await this.queue.upsertJobScheduler(nodeName, { every, offset: jitterMs(nodeName, every) }, {
      name: ROUND_JOB,
      data: { nodeName, policyName },
      opts: { attempts: 1, removeOnComplete: true, removeOnFail: true },
    });
    if (existing === undefined) {
      // A node new to the schedule (just registered, or schedules lost with Redis) is attested now,
      // not only at its jittered slot up to one interval later.
      await this.queue.add(ROUND_JOB, { nodeName, policyName }, { jobId: `first-${nodeName}`, attempts: 1, removeOnComplete: true, removeOnFail: true });
    }
    this.log?.info('round schedule set', { node: nodeName, policy: policyName, intervalMs: every });
  }

  async remove(nodeName: string): Promise<void> {
    if (await this.queue.removeJobScheduler(nodeName)) this.log?.info('round schedule removed', { node: nodeName });
  }

  async list(): Promise<string[]> {
    const schedulers = await this.queue.getJobSchedulers(0, -1);
    return schedulers.map((s) => s.id ?? s.key);
  }

  /** Makes the schedules exactly `targets`: ensures each (idempotent) and removes every other one. */
  async reconcileSchedules(targets: readonly AttestationTarget[]): Promise<ReconcileResult> {
    const wanted = new Set(targets.map((t) => t.nodeName));
    for (const t of targets) await this.ensure(t);
    const removed = (await this.list()).filter((n) => !wanted.has(n));
    for (const n of removed) await this.remove(n);
    return { ensured: targets.length, removed };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private watchReconnects(onReconnect: (() => void) | undefined): void {
    let connected = false;
    this.queue.waitUntilReady().then(() => { connected = true; }, () => undefined);
    this.queue.getBackend().on('ready', () => {
      if (connected) {
        this.log?.info('round queue: redis connection restored');
        onReconnect?.();
      }
      connected = true;
    });
  }
}
