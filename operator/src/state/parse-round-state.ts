import type { StoredRoundState as RoundState } from '../ports.js';

/** Stored format version; a different version reads as absent (full verification next round). */
export const ROUND_STATE_FORMAT = 1;

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHex = (v: unknown, bytes?: number): v is string =>
  typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v) && (bytes === undefined ? v.length <= 256 : v.length === bytes * 2);

/** Serialises a state with its format version. */
export function serializeRoundState(state: RoundState): string {
  return JSON.stringify({ v: ROUND_STATE_FORMAT, state });
}

/**
 * Parses a stored state; returns a reason string when it is not a valid one (the caller treats it
 * as absent). Only the declared fields are kept.
 */
export function parseRoundState(text: string): RoundState | { corrupt: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { corrupt: 'not JSON' };
  }
  if (!isObj(doc) || doc['v'] !== ROUND_STATE_FORMAT) return { corrupt: 'unknown format version' };
  const s = doc['state'];
  if (!isObj(s) || !isObj(s['ima']) || !isCount(s['ima']['count'])) return { corrupt: 'ima.count' };
  const banks = parsePcr10(s['ima']['pcr10']);
  if ('corrupt' in banks) return banks;
  const state: RoundState = { ima: { count: s['ima']['count'], pcr10: banks } };
  return optionalFields(s, state);
}

/** A round replays only the bank it checks, so either bank may be absent, but not both. */
function parsePcr10(pcr10: unknown): RoundState['ima']['pcr10'] | { corrupt: string } {
  if (!isObj(pcr10)) return { corrupt: 'ima.pcr10' };
  const banks: { sha1?: string; sha256?: string } = {};
  for (const [bank, bytes] of [['sha1', 20], ['sha256', 32]] as const) {
    if (pcr10[bank] === undefined) continue;
    if (!isHex(pcr10[bank], bytes)) return { corrupt: `ima.pcr10.${bank}` };
    banks[bank] = pcr10[bank];
  }
  return banks.sha1 === undefined && banks.sha256 === undefined ? { corrupt: 'ima.pcr10' } : banks;
}

function optionalFields(s: Json, state: RoundState): RoundState | { corrupt: string } {
  for (const k of ['resetCount', 'restartCount'] as const) {
    if (s[k] === undefined) continue;
    if (!isCount(s[k])) return { corrupt: k };
    state[k] = s[k];
  }
  if (s['bootPcrsDigest'] !== undefined) {
    if (!isHex(s['bootPcrsDigest'])) return { corrupt: 'bootPcrsDigest' };
    state.bootPcrsDigest = s['bootPcrsDigest'];
  }
  if (s['akName'] !== undefined) {
    if (!isHex(s['akName'])) return { corrupt: 'akName' };
    state.akName = s['akName'];
  }
  const cmdlines = s['kernelCmdlines'];
  if (cmdlines !== undefined) {
    if (!Array.isArray(cmdlines) || !cmdlines.every((c) => typeof c === 'string')) return { corrupt: 'kernelCmdlines' };
    state.kernelCmdlines = cmdlines;
  }
  return operatorFields(s, state);
}

/** What only the operator keeps: the policy the state was verified under, a sticky verity corruption. */
function operatorFields(s: Json, state: RoundState): RoundState | { corrupt: string } {
  if (s['policyDigest'] !== undefined) {
    if (!isHex(s['policyDigest'], 32)) return { corrupt: 'policyDigest' };
    state.policyDigest = s['policyDigest'];
  }
  if (s['verityCorruptedBoot'] !== undefined) {
    if (!isCount(s['verityCorruptedBoot'])) return { corrupt: 'verityCorruptedBoot' };
    state.verityCorruptedBoot = s['verityCorruptedBoot'];
  }
  return state;
}
