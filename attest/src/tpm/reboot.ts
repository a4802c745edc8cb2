import { isParseError } from '../binary/parse-error.js';
import { failure, type Failure } from '../failure.js';
import { parseAttest, type ClockInfo } from './attest.js';

/** The TPMS_CLOCK_INFO counters that tell boots (resetCount) and resumes (restartCount) apart. */
export interface BootCounters {
  readonly resetCount: number;
  readonly restartCount: number;
}

/**
 * The one reboot test: whether `current` is another boot than `previous`, i.e. both resetCounts are
 * known and differ. The round state, the sticky dm-verity verdict and the evidence fetch all use it;
 * detectReboot adds what two verified quotes can tell on top (counters going backwards).
 */
export function bootChanged(previous: number | undefined, current: number | undefined): boolean {
  return previous !== undefined && current !== undefined && previous !== current;
}

/**
 * The counters a quote claims (TPMS_ATTEST read before its signature is checked): a hint for what
 * evidence to fetch, never a verdict. Undefined when the bytes are malformed.
 */
export function readBootCountersHint(quoted: Uint8Array): BootCounters | undefined {
  try {
    const { clockInfo } = parseAttest(quoted);
    return { resetCount: clockInfo.resetCount, restartCount: clockInfo.restartCount };
  } catch (e) {
    if (isParseError(e)) return undefined;
    throw e;
  }
}

export interface RebootVerdict {
  /** resetCount moved: the TPM was reset (the machine rebooted); PCRs start over. */
  readonly rebooted: boolean;
  /** restartCount moved within the same reset: TPM Restart/Resume (e.g. hibernation). */
  readonly resumed: boolean;
  /** Counters or clock went backwards: a replayed or forged quote, or another TPM. */
  readonly failure?: Failure;
}

/**
 * Compares the clockInfo of two verified quotes of the same AK, previous then current. A reboot is not
 * a failure (the caller restarts log replay); counters going backwards are.
 */
export function detectReboot(previous: ClockInfo, current: ClockInfo): RebootVerdict {
  const ctx = {
    previousResetCount: previous.resetCount,
    resetCount: current.resetCount,
    previousRestartCount: previous.restartCount,
    restartCount: current.restartCount,
  };
  if (current.resetCount < previous.resetCount) {
    return { rebooted: false, resumed: false, failure: failure('quote.reset_count_regressed', 'resetCount went backwards', ctx) };
  }
  if (bootChanged(previous.resetCount, current.resetCount)) return { rebooted: true, resumed: false };
  if (current.restartCount < previous.restartCount) {
    return { rebooted: false, resumed: false, failure: failure('quote.restart_count_regressed', 'restartCount went backwards', ctx) };
  }
  const resumed = current.restartCount > previous.restartCount;
  if (!resumed && current.clock < previous.clock) {
    return { rebooted: false, resumed, failure: failure('quote.clock_regressed', 'the TPM clock went backwards within one boot', { ...ctx, previousClock: previous.clock.toString(), clock: current.clock.toString() }) };
  }
  return { rebooted: false, resumed };
}
