import type { DrainProgress, PodView } from '../status/resources.js';

/** The pods a drain evicts, as kubectl drain chooses them: not DaemonSet or mirror pods, not finished, not already terminating. */
export function podsToEvict(pods: readonly PodView[]): { evict: PodView[]; skipped: number } {
  const skip = (p: PodView): boolean => p.mirror || p.ownerKinds.includes('DaemonSet');
  const live = pods.filter((p) => !p.terminating && p.phase !== 'Succeeded' && p.phase !== 'Failed');
  return { evict: live.filter((p) => !skip(p)), skipped: live.filter(skip).length };
}

/** At most this many blocked pods are named in status (the count is in `pending`). */
const MAX_BLOCKED_LISTED = 16;

/** One pass of a drain: how many pods it evicted, which are still to evict (refused, or not tried after the timeout), how many stay. */
export interface DrainPass {
  evictedNow: number;
  pending: readonly PodView[];
  skipped: number;
}

/**
 * The drain's progress after a pass: evictions add to the count; pods a PodDisruptionBudget refused
 * stay pending (retried on the next pass) until the timeout, when the drain is TimedOut. Pure.
 */
export function nextDrainProgress(prev: DrainProgress | undefined, pass: DrainPass, startedAt: Date, timedOut: boolean): DrainProgress {
  const pending = pass.pending.map((p) => `${p.namespace}/${p.name}`);
  const phase: DrainProgress['phase'] = pending.length === 0 ? 'Drained' : timedOut ? 'TimedOut' : 'Draining';
  return {
    phase, startedAt: startedAt.toISOString(), evicted: (prev?.evicted ?? 0) + pass.evictedNow, pending: pending.length, skipped: pass.skipped,
    ...(pending.length === 0 ? {} : { blockedByDisruptionBudget: pending.slice(0, MAX_BLOCKED_LISTED) }),
  };
}

/** Whether the pass found the drain over (Drained or TimedOut): nothing more is tried until enforcement is lifted. */
export function drainOver(p: DrainProgress | undefined): boolean {
  return p?.phase === 'Drained' || p?.phase === 'TimedOut';
}
