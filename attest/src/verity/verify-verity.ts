import { failure, type Failure } from '../failure.js';
import { normalizeHex } from '../eventlog/hex.js';
import type { Hex, VerityDeviceStatus } from '../wire.js';
import { verityRootHashesFromCmdlines } from './verity-cmdline.js';

/** The dm-verity part of a NodeAttestationPolicy: devices that must exist, verified, with an allowed root hash. */
export interface VerityPolicy {
  devices: { name: string; allowedRootHashes: Hex[] }[];
}

function checkRuntime(name: string, measured: Hex, runtime: readonly VerityDeviceStatus[]): Failure[] {
  const entries = runtime.filter((d) => d.name === name);
  if (entries.length === 0) return [failure('verity.device_missing', `dm-verity device ${name} is not active`, { device: name })];
  if (entries.length > 1) return [failure('verity.status_ambiguous', `dm-verity device ${name} is reported ${entries.length} times`, { device: name })];
  const d = entries[0]!;
  const out: Failure[] = [];
  if (normalizeHex(d.rootHash) !== measured) {
    out.push(failure('verity.roothash_mismatch', `dm-verity device ${name} runs with root hash ${d.rootHash}, the kernel command line measured ${measured}`, { device: name, runtime: d.rootHash, measured }));
  }
  if (d.status === 'corrupted') out.push(failure('verity.corrupted', `dm-verity device ${name} detected corruption`, { device: name }));
  else if (d.status !== 'verified') out.push(failure('verity.status_unknown', `dm-verity device ${name} status is ${String(d.status)}`, { device: name }));
  return out;
}

function checkDevice(device: VerityPolicy['devices'][number], claims: Map<string, Set<Hex>>, runtime: readonly VerityDeviceStatus[]): Failure[] {
  const { name } = device;
  const hashes = [...(claims.get(name) ?? [])];
  if (hashes.length === 0) return [failure('verity.roothash_not_measured', `no measured kernel command line sets a root hash for ${name}`, { device: name })];
  if (hashes.length > 1) return [failure('verity.roothash_ambiguous', `measured kernel command lines set ${hashes.length} root hashes for ${name}`, { device: name })];
  const measured = hashes[0]!;
  const allowed = new Set(device.allowedRootHashes.map((h) => normalizeHex(h)));
  const out = allowed.has(measured) ? [] : [failure('verity.roothash_not_allowed', `root hash ${measured} of ${name} is not allowed`, { device: name, rootHash: measured })];
  return [...out, ...checkRuntime(name, measured, runtime)];
}

/**
 * dm-verity: for each required device, the root hash set by the measured (verified) kernel command
 * lines is allowed, and the running device reports that root hash and status `verified`. Corruption,
 * absence and any other status fail; returns every failure (empty means compliant).
 */
export function verifyVerity(kernelCmdlines: readonly string[], runtimeStatus: readonly VerityDeviceStatus[], policy: VerityPolicy): Failure[] {
  const claims = verityRootHashesFromCmdlines(kernelCmdlines);
  return policy.devices.flatMap((d) => checkDevice(d, claims, runtimeStatus));
}
