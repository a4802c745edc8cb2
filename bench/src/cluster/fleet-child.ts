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
  | { kind: 'quotes' };
export type FleetChildReply = { kind: 'started' } | { kind: 'quotes'; quotes: number } | { kind: 'error'; message: string };

let fleet: SoftFleet | undefined;
const send = (m: FleetChildReply): void => { process.send?.(m); };

process.on('message', (m: FleetChildRequest) => {
  if (m.kind === 'start') {
    startFleetRange(m.spec, m.from, m.to, m.port).then((f) => { fleet = f; send({ kind: 'started' }); },
      (e: unknown) => send({ kind: 'error', message: e instanceof Error ? e.message : String(e) }));
  } else {
    send({ kind: 'quotes', quotes: fleet?.quotes ?? 0 });
  }
});
// The parent going away (or closing the channel) ends the range.
process.on('disconnect', () => { void (fleet?.close() ?? Promise.resolve()).finally(() => process.exit(0)); });
