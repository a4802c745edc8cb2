import type { EnforcementAction } from '../decide/actions.js';

/**
 * Remembers, per node, the enforcement this replica last found already converged (a convergence
 * that changed nothing), so the next identical request within `maxAgeMs` is skipped. Every passing
 * round and every resync asks to converge the same actions again; without this each costs several
 * API reads (the Node for each taint and the cordon, the credential Secret).
 *
 * A convergence that changed something is not remembered (the next request verifies it), nor one
 * that left work to retry (`settled` false, e.g. a credential delivery that failed), one that threw
 * forgets the node, and `forget` is called on every change the informers report for the node
 * or its NodeAttestation, so a taint removed by hand is re-applied on that change, not `maxAgeMs` later.
 */
export class ConvergenceMemo {
  private readonly converged = new Map<string, { id: string; at: number }>();

  constructor(private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  /** Runs `converge` unless the same `request` for `nodeName` was found converged within maxAgeMs. */
  async run(
    nodeName: string, request: unknown, converge: () => Promise<readonly EnforcementAction[]>, settled: () => boolean = () => true,
  ): Promise<EnforcementAction[] | undefined> {
    const id = JSON.stringify(request);
    const hit = this.converged.get(nodeName);
    if (hit !== undefined && hit.id === id && this.now() - hit.at < this.maxAgeMs) return undefined;
    this.converged.delete(nodeName);
    const started = this.now();
    const changed = await converge();
    if (changed.length === 0 && settled()) this.converged.set(nodeName, { id, at: started });
    return [...changed];
  }

  forget(nodeName: string): void {
    this.converged.delete(nodeName);
  }

  get size(): number {
    return this.converged.size;
  }
}
