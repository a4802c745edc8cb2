import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseVerityDevices, type VerityDeviceStatus } from '@nodeward/attest';

/**
 * dm-verity state from `dmsetup status --target verity` and `dmsetup table --target verity`, either
 * run on the node or read from two files holding that output (simulated nodes). The agent only
 * reports; the operator decides. Parsing is attest's parseVerityDevices (throws ParseError).
 */
export type VeritySourceConfig = { kind: 'files'; statusPath: string; tablePath: string } | { kind: 'dmsetup'; binary?: string };

export const VERITY_FIXTURE_STATUS = 'run/nodeward/dmsetup-status';
export const VERITY_FIXTURE_TABLE = 'run/nodeward/dmsetup-table';

export function fixtureVeritySource(hostRoot: string): VeritySourceConfig {
  return { kind: 'files', statusPath: join(hostRoot, VERITY_FIXTURE_STATUS), tablePath: join(hostRoot, VERITY_FIXTURE_TABLE) };
}

function runDmsetup(binary: string, sub: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, [sub, '--target', 'verity'], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dmsetup ${sub}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export async function readVerity(src: VeritySourceConfig): Promise<VerityDeviceStatus[]> {
  if (src.kind === 'files') {
    const [status, table] = await Promise.all([readFile(src.statusPath, 'utf8'), readFile(src.tablePath, 'utf8')]);
    return parseVerityDevices(status, table);
  }
  const bin = src.binary ?? 'dmsetup';
  return parseVerityDevices(await runDmsetup(bin, 'status'), await runDmsetup(bin, 'table'));
}
