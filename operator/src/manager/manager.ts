import type { Logger } from '../log.js';

/**
 * A component the manager starts and stops (controller-runtime's Runnable). `needsLeader` components
 * run only while this replica holds the leader Lease: started when it is won, stopped when it is lost
 * (LeaderElectionRunnable); the others run in every replica from start to stop.
 */
export interface Runnable {
  readonly name: string;
  readonly needsLeader: boolean;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** The manager's side of leader election: it is told when leading starts and stops. */
export interface LeaderHooks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}
export interface Elector {
  start(): void;
  stop(): Promise<void>;
}

export interface ManagerOptions {
  /** Builds the elector with the manager's hooks (the one place leadership is observed). */
  elector: (hooks: LeaderHooks) => Elector;
  log: Logger;
  /** Told of every leadership change (the leader metric). */
  onLeadership?: (leading: boolean) => void;
}

/**
 * Starts every registered component, in registration order, and gates the leader-only ones on
 * leadership in this one place; stops them in reverse order. A leader component that fails to start
 * is logged and retried on the next election (no other component depends on it).
 */
export class Manager {
  private readonly runnables: Runnable[] = [];
  private readonly elector: Elector;
  private leading = false;
  /** The leader components' start or stop in progress: a transition waits for the last one. */
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly o: ManagerOptions) {
    this.elector = o.elector({ onStartedLeading: () => this.setLeading(true), onStoppedLeading: () => this.setLeading(false) });
  }

  add(...runnables: Runnable[]): this {
    this.runnables.push(...runnables);
    return this;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * `fn`, run only while this replica leads: a follower's call resolves without running it. Components
   * that must act only as the leader (enforcement after a round) take such a function, never a leader check.
   */
  whileLeading<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
    return (...args: A) => (this.leading ? fn(...args) : Promise.resolve());
  }

  /** `leader` while this replica leads, `follower` otherwise: behaviour that differs by leadership is chosen here. */
  byLeadership<A extends unknown[], R>(leader: (...args: A) => R, follower: (...args: A) => R): (...args: A) => R {
    return (...args: A) => (this.leading ? leader(...args) : follower(...args));
  }

  /** Start the components every replica runs, then take part in the election. */
  async start(): Promise<void> {
    for (const r of this.runnables.filter((x) => !x.needsLeader)) {
      await r.start();
      this.o.log.debug('component started', { component: r.name });
    }
    this.elector.start();
  }

  /** Leave the election (stopping the leader components), then stop the others, in reverse order. */
  async stop(): Promise<void> {
    await this.elector.stop();
    this.setLeading(false);
    await this.transition;
    for (const r of this.runnables.filter((x) => !x.needsLeader).reverse()) {
      await call(() => r.stop()).catch((e: unknown) => this.o.log.warn('component failed to stop', { component: r.name, error: e }));
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.o.onLeadership?.(leading);
    const leaders = this.runnables.filter((x) => x.needsLeader);
    this.transition = this.transition.then(() => (leading ? this.startAll(leaders) : this.stopAll([...leaders].reverse())));
  }

  private async startAll(rs: readonly Runnable[]): Promise<void> {
    for (const r of rs) {
      if (!this.leading) return;
      await call(() => r.start()).catch((e: unknown) => this.o.log.warn('leader component failed to start', { component: r.name, error: e }));
    }
  }

  private async stopAll(rs: readonly Runnable[]): Promise<void> {
    for (const r of rs) {
      await call(() => r.stop()).catch((e: unknown) => this.o.log.warn('leader component failed to stop', { component: r.name, error: e }));
    }
  }
}

/** `fn`'s result as a promise, a synchronous throw included. */
async function call(fn: () => void | Promise<void>): Promise<void> {
  await fn();
}

/** A component from a start and a stop function. */
export function runnable(name: string, needsLeader: boolean, start: () => void | Promise<void>, stop: () => void | Promise<void> = () => undefined): Runnable {
  return { name, needsLeader, start, stop };
}

/** A leader-only or every-replica timer: `tick` every `periodMs` while the component runs. */
export function ticker(name: string, needsLeader: boolean, periodMs: number, tick: () => void): Runnable {
  let timer: NodeJS.Timeout | undefined;
  return runnable(name, needsLeader, () => { timer ??= setInterval(tick, periodMs); }, () => { clearInterval(timer); timer = undefined; });
}

/** `r`, with `after` run once it has stopped (clearing what it published, say). */
export function withStop(r: Runnable, after: () => void): Runnable {
  return { ...r, stop: async () => { await r.stop(); after(); } };
}
