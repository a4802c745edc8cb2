import { bootPcrsDigest, hash, marshalAttest, readBootCountersHint, TPM_GENERATED_VALUE, TPM_ST } from '@nodeward/attest';
import type { PcrValues, RoundState } from '@nodeward/attest';
import { needsEventLog } from './boot-pcrs.js';

const pcr = (n: number, size = 32): Uint8Array => new Uint8Array(size).fill(n);
const boot = (size: number, change = -1): Record<string, Uint8Array> =>
  Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i), pcr(i === change ? 99 : i, size)]));
const state = (digest?: string, resetCount?: number): RoundState =>
  ({ ima: { count: 0, pcr10: { sha1: '', sha256: '' } }, bootPcrsDigest: digest, resetCount });

describe('bootPcrsDigest', () => {
  it('is SHA-256 over PCR 0..9 of the preferred complete bank', () => {
    const pcrs: PcrValues = { sha1: boot(20), sha256: boot(32) };
    expect(bootPcrsDigest(pcrs)).toBe(hash('sha256', ...Array.from({ length: 10 }, (_, i) => pcr(i))).toString('hex'));
    expect(bootPcrsDigest({ sha1: boot(20) })).toBe(hash('sha256', ...Array.from({ length: 10 }, (_, i) => pcr(i, 20))).toString('hex'));
    const partial = boot(32);
    delete partial['9'];
    expect(bootPcrsDigest({ sha256: partial })).toBeUndefined();
  });
});

describe('needsEventLog', () => {
  const pcrs: PcrValues = { sha256: boot(32) };
  const digest = bootPcrsDigest(pcrs)!;
  it.each([
    ['the first round', undefined, pcrs, undefined, true],
    ['a state without a boot digest', state(undefined), pcrs, undefined, true],
    ['unchanged boot PCRs', state(digest, 1), pcrs, { resetCount: 1, restartCount: 0 }, false],
    ['unchanged boot PCRs, no clock hint', state(digest, 1), pcrs, undefined, false],
    ['a changed PCR 4', state(digest), { sha256: boot(32, 4) }, undefined, true],
    ['a quote missing boot PCRs', state(digest), { sha256: { '0': pcr(0) } }, undefined, true],
    ['a reboot with identical PCRs', state(digest, 1), pcrs, { resetCount: 2, restartCount: 0 }, true],
  ])('%s → %s', (_name, s, quoted, clock, expected) => {
    expect(needsEventLog(quoted, s, clock)).toBe(expected);
  });
});

describe('readBootCountersHint', () => {
  it('reads resetCount and restartCount after the signer name and extra data, and undefined when truncated', () => {
    const b = marshalAttest({
      magic: TPM_GENERATED_VALUE, type: TPM_ST.ATTEST_TIME, qualifiedSigner: Buffer.from('aabb', 'hex'), extraData: Buffer.from('cc', 'hex'),
      clockInfo: { clock: 9n, resetCount: 5, restartCount: 6, safe: true }, firmwareVersion: 0n, attested: { kind: 'other', raw: new Uint8Array(8) },
    });
    expect(readBootCountersHint(b)).toEqual({ resetCount: 5, restartCount: 6 });
    expect(readBootCountersHint(b.subarray(0, 20))).toBeUndefined();
    expect(readBootCountersHint(Buffer.from('AAAA', 'base64'))).toBeUndefined();
  });
});
