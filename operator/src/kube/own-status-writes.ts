import type { NodeAttestation, NodeAttestationStatus } from '../status/resources.js';
import { resourceVersionAtLeast } from './resource-version.js';

/**
 * Read-your-writes for NodeAttestation status. The informer shows a status write only when its
 * watch event arrives, and at 10,000 nodes that took longer than a round interval: the next round
 * compared against the status from before the write and wrote the same heartbeat again (a third
 * more status writes than nodes in a 5-minute window). This keeps, per NodeAttestation, the status
 * this replica last wrote and the resourceVersion the write returned; `latest` gives the cached
 * object with that status while the cache's copy is older than the write. Once the copy has caught
 * up (or cannot be compared), the cache is the truth again and the entry goes. Pure, no I/O.
 */
export class OwnStatusWrites {
  private readonly byName = new Map<string, { resourceVersion: string; status: NodeAttestationStatus }>();

  record(name: string, resourceVersion: string | undefined, status: NodeAttestationStatus): void {
    if (resourceVersion === undefined || resourceVersion === '') {
      this.byName.delete(name);
      return;
    }
    // Two writes in flight may finish out of order: the one the API server applied last stays.
    const kept = this.byName.get(name);
    if (kept === undefined || !resourceVersionAtLeast(kept.resourceVersion, resourceVersion)) this.byName.set(name, { resourceVersion, status });
  }

  forget(name: string): void {
    this.byName.delete(name);
  }

  latest(cached: NodeAttestation | undefined): NodeAttestation | undefined {
    if (cached === undefined) return undefined;
    const own = this.byName.get(cached.metadata.name);
    if (own === undefined) return cached;
    const rv = cached.metadata.resourceVersion;
    // Older only when both are comparable and the copy's is lower; anything else trusts the cache.
    const older = rv !== undefined && resourceVersionAtLeast(own.resourceVersion, rv) && !resourceVersionAtLeast(rv, own.resourceVersion);
    if (!older) {
      this.byName.delete(cached.metadata.name);
      return cached;
    }
    return { ...cached, status: own.status };
  }

  get size(): number {
    return this.byName.size;
  }
}
