import { sleep } from '../harness/wait.js';
import type { Stack } from '../stack/stack.js';

interface Item { spec: { nodeName: string }; status?: { lastSuccessTime?: string } }

/**
 * The longest time each node went without a passing attestation while it watched: the gaps between
 * successive `status.lastSuccessTime` values (the operator's own clock; with a status heartbeat
 * shorter than the interval every round writes it), and the time since the last one when it stops.
 * Polling misses only intermediate values, which can only make a gap look longer, never shorter.
 */
export class AttestationGaps {
  private readonly last = new Map<string, number>();
  private readonly longest = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly stack: Stack, private readonly nodes: readonly string[], private readonly everyMs = 250) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll().catch(() => undefined);
        await sleep(this.everyMs);
      }
    })();
  }

  /** Stops polling; the longest gap per node in ms, counting the time since its last attestation. */
  async stop(): Promise<Record<string, number>> {
    this.running = false;
    await this.loop;
    await this.poll();
    const now = Date.now();
    return Object.fromEntries(this.nodes.map((n) => {
      const last = this.last.get(n);
      return [n, last === undefined ? Infinity : Math.max(this.longest.get(n) ?? 0, now - last)];
    }));
  }

  private async poll(): Promise<void> {
    const list = JSON.parse(await this.stack.kubectl(['get', 'nodeattestations', '-o', 'json'])) as { items: Item[] };
    for (const item of list.items) {
      const node = item.spec.nodeName;
      if (!this.nodes.includes(node)) continue;
      const t = Date.parse(item.status?.lastSuccessTime ?? '');
      const prev = this.last.get(node);
      if (Number.isNaN(t) || (prev !== undefined && t <= prev)) continue;
      if (prev !== undefined) this.longest.set(node, Math.max(this.longest.get(node) ?? 0, t - prev));
      this.last.set(node, t);
    }
  }
}
