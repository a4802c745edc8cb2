import { digestBinds } from './event-binding.js';
import { EV } from './event-types.js';
import type { VerifiedEventLog } from './verify-event-log.js';

/** EFI_GLOBAL_VARIABLE, the vendor GUID of SecureBoot, PK and KEK. */
export const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

export type SecureBootState = 'enabled' | 'disabled' | 'unknown';

/**
 * Secure Boot as PCR 7 recorded it: the SecureBoot variable (EV_EFI_VARIABLE_DRIVER_CONFIG) must be
 * logged, its digest must cover the logged UEFI_VARIABLE_DATA (so the value shown is the value
 * measured), and every such record must read 1. Any record reading otherwise means disabled; no
 * record, an unbound record or a malformed one means unknown.
 */
export function secureBootState(log: VerifiedEventLog): SecureBootState {
  let seen = false;
  for (const e of log.events) {
    if (e.pcr !== 7 || e.type !== EV.EFI_VARIABLE_DRIVER_CONFIG) continue;
    if (e.decoded.kind === 'malformed') return 'unknown';
    if (e.decoded.kind !== 'efi-variable' || e.decoded.guid !== EFI_GLOBAL_VARIABLE || e.decoded.name !== 'SecureBoot') continue;
    if (!digestBinds(e, log.banks, e.data)) return 'unknown';
    const v = e.decoded.value;
    if (v.length !== 1 || v[0] !== 1) return 'disabled';
    seen = true;
  }
  return seen ? 'enabled' : 'unknown';
}
