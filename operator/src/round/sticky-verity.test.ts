import type { Failure, RoundState, RoundVerdict } from '@nodeward/attest';
import { withStickyVerity } from './sticky-verity.js';

const before: RoundState = { ima: { count: 5, pcr10: { sha256: '11'.repeat(32) } }, resetCount: 7, restartCount: 0 };
const advanced: RoundState = { ima: { count: 9, pcr10: { sha256: '22'.repeat(32) } }, resetCount: 7, restartCount: 0 };
const corrupted: Failure = { id: 'verity.corrupted', message: 'dm-verity device root detected corruption' };
const other: Failure = { id: 'ima.digest_not_allowed', message: '/usr/bin/x' };
const verdict = (trusted: boolean, failures: Failure[], resetCount = 7, rebooted = false): RoundVerdict => ({
  trusted, failures, rebooted, nextState: trusted ? { ...advanced, resetCount } : { ...before, resetCount },
});

describe('withStickyVerity', () => {
  it.each<[string, RoundVerdict, number | undefined, [boolean, string[], number | undefined]]>([
    // name, verdict, saved corrupted boot, [trusted after, failure ids after, corrupted boot to save]
    ['a clean round with no corruption on record passes', verdict(true, []), undefined, [true, [], undefined]],
    ['reported corruption is recorded for this boot', verdict(false, [corrupted]), undefined, [false, ['verity.corrupted'], 7]],
    ['corruption reported again stays recorded', verdict(false, [corrupted]), 7, [false, ['verity.corrupted'], 7]],
    ['the agent stops reporting it: still failing in the same boot', verdict(true, []), 7, [false, ['verity.corrupted'], 7]],
    ['another failure in the same boot keeps both', verdict(false, [other]), 7, [false, ['ima.digest_not_allowed', 'verity.corrupted'], 7]],
    ['after a reboot it is over', verdict(true, [], 8, true), 7, [true, [], undefined]],
    ['a resetCount other than the recorded one is another boot', verdict(true, [], 9), 7, [true, [], undefined]],
  ])('%s', (_name, v, savedBoot, [trusted, ids, boot]) => {
    const r = withStickyVerity(v, before, savedBoot);
    expect(r.verdict.trusted).toBe(trusted);
    expect(r.verdict.failures.map((f) => f.id)).toEqual(ids);
    expect(r.corruptedBoot).toBe(boot);
  });

  it('does not advance the state of a round it fails', () => {
    const r = withStickyVerity(verdict(true, []), before, 7);
    expect(r.verdict.nextState).toEqual(before);
  });
});
