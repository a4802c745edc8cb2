import type { BootPolicy } from '../eventlog/boot-policy.js';
import type { Failure } from '../failure.js';
import type { CompiledRuntimePolicy } from '../ima/compile-runtime-policy.js';
import type { ImaState } from '../ima/ima-state.js';
import type { VerityPolicy } from '../verity/verify-verity.js';
import type { PcrSelection, PcrValues } from '../pcr.js';
import type { Hex, VerityDeviceStatus } from '../wire.js';

/**
 * One attestation round: what the operator fetched from an agent, what the policy requires, and
 * what it remembered from the previous round. `verifyRound` turns these into a verdict and the
 * state for the next round. Pure data, so any worker can take any node's next round.
 */
export interface RoundEvidence {
  /** The nonce this round sent. */
  nonce: Uint8Array;
  quote: { quoted: Uint8Array; signature: Uint8Array; pcrs: PcrValues };
  /** IMA entries from `state.ima.count` (absent when the policy has no IMA rules). */
  ima?: { from: number; total: number; entries: Uint8Array };
  /** The boot event log, fetched when boot PCRs changed since the last round (or on the first). */
  eventLog?: Uint8Array;
  verity?: VerityDeviceStatus[];
}

export interface RoundPolicy {
  /** TPM2B_PUBLIC of the registered AK. */
  akPublic: Uint8Array;
  pcrSelection: PcrSelection;
  expectedPcrs?: PcrValues<Hex>;
  /** A compiled Keylime runtime policy, or undefined for no IMA rules. */
  ima?: CompiledRuntimePolicy;
  /** IMA violations fail the round unless 'ignore' (Keylime's default only logs them). */
  imaViolations?: 'fail' | 'ignore';
  /** Measured-boot rules; when set, the event log must be verified against the quote. */
  bootPolicy?: Omit<BootPolicy, 'expectedPcrs'>;
  verity?: VerityPolicy;
}

/** What a round remembers for the next one (kept in Redis per node). */
export interface RoundState {
  /** IMA entries verified so far and the running PCR 10 per bank after them. */
  ima: ImaState;
  resetCount?: number;
  restartCount?: number;
  /** Digest of the quoted boot PCRs (0-9) when the event log was last verified against them. */
  bootPcrsDigest?: Hex;
  /** Kernel command lines measured in the last verified event log (for dm-verity). */
  kernelCmdlines?: string[];
  /** AK Name the state was verified with: another AK's rounds do not continue it. */
  akName?: Hex;
}

export interface RoundVerdict {
  trusted: boolean;
  /** Every failure found, not just the first. */
  failures: Failure[];
  /** Set when the TPM rebooted since the last round: IMA state restarted from zero. */
  rebooted: boolean;
  nextState: RoundState;
}
