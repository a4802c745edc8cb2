import { parseRoundState, serializeRoundState } from './parse-round-state.js';

const base = { ima: { count: 3, pcr10: { sha256: '11'.repeat(32) } }, resetCount: 2 };

describe('parseRoundState: the operator\'s own fields', () => {
  it('round-trips the policy digest and a sticky verity corruption', () => {
    const state = { ...base, policyDigest: 'ab'.repeat(32), verityCorruptedBoot: 2 };
    expect(parseRoundState(serializeRoundState(state))).toEqual(state);
  });
  it.each([
    ['a policy digest that is not 32 bytes of hex', { policyDigest: 'abc' }, 'policyDigest'],
    ['a verity boot that is not a count', { verityCorruptedBoot: -1 }, 'verityCorruptedBoot'],
  ])('reads %s as corrupt (full verification next round)', (_n, extra, field) => {
    expect(parseRoundState(JSON.stringify({ v: 1, state: { ...base, ...extra } }))).toEqual({ corrupt: field });
  });
});
