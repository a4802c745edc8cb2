import { failureFactory, type KindedFailure } from '../failure.js';

/** Why dm-verity evidence failed. Each kind has one Failure id (`verity.*`). */
export type VerityFailureKind =
  | 'DeviceMissing'
  | 'StatusUnknown'
  | 'StatusAmbiguous'
  | 'Corrupted'
  | 'RoothashNotMeasured'
  | 'RoothashAmbiguous'
  | 'RoothashMismatch'
  | 'RoothashNotAllowed';

export const VERITY_FAILURE_IDS = {
  DeviceMissing: 'verity.device_missing',
  StatusUnknown: 'verity.status_unknown',
  StatusAmbiguous: 'verity.status_ambiguous',
  /** Corruption reported in this boot: sticky until the node reboots. */
  Corrupted: 'verity.corrupted',
  RoothashNotMeasured: 'verity.roothash_not_measured',
  RoothashAmbiguous: 'verity.roothash_ambiguous',
  RoothashMismatch: 'verity.roothash_mismatch',
  RoothashNotAllowed: 'verity.roothash_not_allowed',
} as const satisfies Record<VerityFailureKind, `verity.${string}`>;

export type VerityFailureId = (typeof VERITY_FAILURE_IDS)[VerityFailureKind];
export type VerityFailure = KindedFailure<VerityFailureKind, VerityFailureId>;
export const verityFailure = failureFactory(VERITY_FAILURE_IDS);
