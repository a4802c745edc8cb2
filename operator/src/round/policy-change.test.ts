import { IMA_INITIAL_STATE } from '@nodeward/attest';
import type { StoredRoundState } from '../ports.js';
import { stateForPolicy } from './policy-change.js';

const A = 'aa'.repeat(32);
const B = 'bb'.repeat(32);
const saved = (policyDigest?: string): StoredRoundState => ({
  ima: { count: 42, pcr10: { sha256: '11'.repeat(32) } }, resetCount: 3, restartCount: 1, bootPcrsDigest: '22'.repeat(32),
  kernelCmdlines: ['roothash=ab'], akName: '000b' + 'cc'.repeat(32), verityCorruptedBoot: 3, ...(policyDigest ? { policyDigest } : {}),
});
const fresh = { ima: IMA_INITIAL_STATE, resetCount: 3, restartCount: 1, akName: '000b' + 'cc'.repeat(32), verityCorruptedBoot: 3 };

describe('stateForPolicy', () => {
  it.each<[string, StoredRoundState | undefined, StoredRoundState | undefined]>([
    ['no saved state: a first round', undefined, undefined],
    ['verified under the same policy: continue', saved(A), saved(A)],
    ['verified under another policy: IMA from entry 0, boot log again; counters, AK and verity kept', saved(B), fresh],
    ['saved before digests were recorded: re-verify once', saved(), fresh],
  ])('%s', (_name, state, want) => {
    expect(stateForPolicy(state, A)).toEqual(want);
  });

  it('does not change the saved object', () => {
    const s = saved(B);
    stateForPolicy(s, A);
    expect(s).toEqual(saved(B));
  });
});
