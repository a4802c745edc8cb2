import { fork, type ChildProcess } from 'node:child_process';
import type { FleetChildReply, FleetChildRequest } from './fleet-child.js';
import { startFleetRange, type FleetSpec } from './fleet-range.js';

/** The soft fleet, in this process or split over child processes. */
export interface Fleet {
  /** Quotes served so far, all processes. */
  quotes(): Promise<number>;
  /** Opens a gap window on every node (SoftFleet.startGapWindow). */
  startGapWindow(): Promise<void>;
  /** Every node's longest time without a quote since the window opened (ms; Infinity: never quoted). */
  gaps(): Promise<number[]>;
  /** The child processes' pids (none when in-process). */
  childPids(): number[];
  close(): Promise<void>;
}

/**
 * Nodes per fleet process. Each node is a listener plus the operator's open keep-alive connection,
 * and a process may hold `ulimit -n` (20,000 here) descriptors: 5,000 nodes leave half of it spare.
 * SCALE_FLEET_NODES_PER_PROCESS overrides it (e.g. to try the split with a small fleet).
 */
export const NODES_PER_PROCESS = Number(process.env['SCALE_FLEET_NODES_PER_PROCESS'] ?? 5000);

/** Starts nodes 0 … n-1: in this process up to NODES_PER_PROCESS, else in ⌈n / NODES_PER_PROCESS⌉ children. */
export async function startFleet(spec: FleetSpec, n: number, port: number): Promise<Fleet> {
  if (n <= NODES_PER_PROCESS) {
    const fleet = await startFleetRange(spec, 0, n, port);
    return {
      quotes: () => Promise.resolve(fleet.quotes), childPids: () => [], close: () => fleet.close(),
      startGapWindow: () => Promise.resolve(fleet.startGapWindow()), gaps: () => Promise.resolve(fleet.gaps()),
    };
  }
  const children: FleetChild[] = [];
  try {
    for (let from = 0; from < n; from += NODES_PER_PROCESS) children.push(new FleetChild());
    await Promise.all(children.map((c, k) => c.start(spec, k * NODES_PER_PROCESS, Math.min(n, (k + 1) * NODES_PER_PROCESS), port)));
  } catch (e) {
    await Promise.all(children.map((c) => c.close()));
    throw e;
  }
  return {
    quotes: async () => (await Promise.all(children.map((c) => c.quotes()))).reduce((a, b) => a + b, 0),
    startGapWindow: async () => { await Promise.all(children.map((c) => c.ask({ kind: 'gap-window' }))); },
    gaps: async () => (await Promise.all(children.map((c) => c.gaps()))).flat(),
    childPids: () => children.map((c) => c.pid),
    close: async () => { await Promise.all(children.map((c) => c.close())); },
  };
}

class FleetChild {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor() {
    this.child = fork(new URL('./fleet-child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get pid(): number { return this.child.pid ?? -1; }

  async start(spec: FleetSpec, from: number, to: number, port: number): Promise<void> {
    const r = await this.ask({ kind: 'start', spec, from, to, port });
    if (r.kind === 'error') throw new Error(`fleet nodes ${from}-${to - 1}: ${r.message}`);
  }

  async quotes(): Promise<number> {
    const r = await this.ask({ kind: 'quotes' });
    return r.kind === 'quotes' ? r.quotes : Number.NaN;
  }

  async gaps(): Promise<number[]> {
    const r = await this.ask({ kind: 'gaps' });
    return r.kind === 'gaps' ? r.gaps.map((g) => (g < 0 ? Infinity : g)) : [Number.NaN];
  }

  async close(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** One request at a time per child (the bench asks sequentially). */
  ask(m: FleetChildRequest): Promise<FleetChildReply> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error('fleet child exited'));
      this.child.once('exit', onExit);
      this.child.once('message', (r: FleetChildReply) => { this.child.off('exit', onExit); resolve(r); });
      this.child.send(m);
    });
  }
}
