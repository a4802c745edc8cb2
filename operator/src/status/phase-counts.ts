import type { NodeAttestation } from './resources.js';

/** How many NodeAttestations are in each phase (no phase yet counts as Pending). Pure. */
export function phaseCounts(nas: readonly NodeAttestation[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of nas) counts[a.status?.phase ?? 'Pending'] = (counts[a.status?.phase ?? 'Pending'] ?? 0) + 1;
  return counts;
}
