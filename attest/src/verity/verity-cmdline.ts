import { normalizeHex } from '../eventlog/hex.js';
import { kernelCmdlineParams } from '../eventlog/kernel-cmdline.js';
import type { Hex } from '../wire.js';

/** Kernel parameters naming a root hash, and the device systemd-veritysetup-generator creates for each. */
const HASH_PARAMS: readonly (readonly [string, string])[] = [
  ['roothash=', 'root'],
  ['systemd.verity_root_hash=', 'root'],
  ['usrhash=', 'usr'],
];

/** Index of root_hash among a verity table's arguments (version, data_dev, hash_dev, data_bs, hash_bs, blocks, hash_start, alg, root_hash, salt). */
const VERITY_ROOT_HASH_ARG = 8;

function add(out: Map<string, Set<Hex>>, device: string, value: string): void {
  const set = out.get(device) ?? new Set<Hex>();
  // A value that is not hex is kept verbatim so it can never match an allowed hash by accident.
  set.add(normalizeHex(value) ?? `invalid:${value}`);
  out.set(device, set);
}

/** `dm-mod.create=<name>,<uuid>,<minor>,<flags>,<table>[,<table>…][;<device>…]`, table `<start> <len> verity <args>`. */
function addDmModCreate(out: Map<string, Set<Hex>>, value: string): void {
  for (const device of value.split(';')) {
    const [name, , , , ...tables] = device.split(',');
    if (name === undefined || name === '') continue;
    for (const table of tables) {
      const words = table.trim().split(/\s+/);
      if (words[2] !== 'verity') continue;
      add(out, name, words[3 + VERITY_ROOT_HASH_ARG] ?? '');
    }
  }
}

/**
 * The root hashes the measured kernel command lines assign to each dm-verity device:
 * roothash= and systemd.verity_root_hash= (device "root"), usrhash= (device "usr"), and verity
 * tables in dm-mod.create= (the device named there). Hex is lowercased.
 */
export function verityRootHashesFromCmdlines(cmdlines: readonly string[]): Map<string, Set<Hex>> {
  const out = new Map<string, Set<Hex>>();
  for (const param of cmdlines.flatMap(kernelCmdlineParams)) {
    for (const [prefix, device] of HASH_PARAMS) if (param.startsWith(prefix)) add(out, device, param.slice(prefix.length));
    if (param.startsWith('dm-mod.create=')) addDmModCreate(out, param.slice('dm-mod.create='.length));
  }
  return out;
}
