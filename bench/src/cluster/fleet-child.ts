#!/usr/bin/env node
// @peculiar/x509 (fleet certificates) needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { startFleetRange, type FleetSpec } from './fleet-range.js';
import type { SoftFleet } from './soft-fleet.js';

/**
 * A child process serving one range of the soft fleet (fleet-procs.ts forks it): a process has at most
 * `ulimit -n` descriptors, and every node costs a listener plus the operator's open connection.
 */

export type FleetChildRequest =
  | { kind: 'start'; spec: FleetSpec; from: number; to: number; port: number }
  | { kind: 'quotes' } | { kind: 'gap-window' } | { kind: 'gaps' };
export type FleetChildReply = { kind: 'started' } | { kind: 'quotes'; quotes: number } | { kind: 'gaps'; gaps: number[] } | { kind: 'error'; message: string };

let fleet: SoftFleet | undefined;
const send = (m: FleetChildReply): void => { process.send?.(m); };

process.on('message', (m: FleetChildRequest) => {
  switch (m.kind) {
    case 'start':
      startFleetRange(m.spec, m.from, m.to, m.port).then((f) => { fleet = f; send({ kind: 'started' }); },
        (e: unknown) => send({ kind: 'error', message: e instanceof Error ? e.message : String(e) }));
      return;
    case 'quotes': send({ kind: 'quotes', quotes: fleet?.quotes ?? 0 }); return;
    case 'gap-window': fleet?.startGapWindow(); send({ kind: 'started' }); return;
    case 'gaps': send({ kind: 'gaps', gaps: (fleet?.gaps() ?? []).map((g) => (Number.isFinite(g) ? g : -1)) }); return;
  }
});
// The parent going away (or closing the channel) ends the range.
process.on('disconnect', () => { void (fleet?.close() ?? Promise.resolve()).finally(() => process.exit(0)); });
