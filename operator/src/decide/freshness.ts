import type { NodeAttestationStatus } from '../status/resources.js';

/** At least this much slack past the heartbeat, however short the interval (queue lag, a slow round). */
export const FRESHNESS_MIN_SLACK_MS = 10_000;
/** Intervals of slack past the heartbeat: a node may miss this many rounds before it looks stale. */
export const FRESHNESS_INTERVALS = 3;

/**
 * How old a Trusted node's last passing round (status.lastSuccessTime) may be. A passing round on a
 * Trusted node rewrites status only once per heartbeat, so the window is the heartbeat plus three
 * intervals (at least 10 s): with rounds running, lastSuccessTime is never older than that. Pure.
 */
export function freshnessWindowMs(intervalMs: number, heartbeatMs: number): number {
  return heartbeatMs + Math.max(FRESHNESS_INTERVALS * intervalMs, FRESHNESS_MIN_SLACK_MS);
}

/**
 * Milliseconds until a Trusted node goes stale (≤ 0: stale now); undefined for other phases. A Trusted
 * status without a parseable lastSuccessTime is stale: nothing shows a recent passing round. Pure.
 */
export function msUntilStale(status: NodeAttestationStatus | undefined, windowMs: number, now: Date): number | undefined {
  if (status?.phase !== 'Trusted') return undefined;
  const last = Date.parse(status.lastSuccessTime ?? '');
  if (Number.isNaN(last)) return 0;
  return last + windowMs - now.getTime();
}
