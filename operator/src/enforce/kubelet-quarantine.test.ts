import { QUARANTINE_REASON_MAX, quarantineReason } from './kubelet-quarantine.js';

describe('quarantineReason', () => {
  it.each([
    ['failure with detail', { phase: 'Untrusted', lastFailure: { reason: 'ima.digest_not_allowed', detail: '/tmp/implant' } }, 'ima.digest_not_allowed: /tmp/implant'],
    ['failure without detail', { phase: 'Untrusted', lastFailure: { reason: 'quote.nonce_mismatch' } }, 'quote.nonce_mismatch'],
    ['failure with empty detail', { phase: 'Untrusted', lastFailure: { reason: 'quote.nonce_mismatch', detail: '' } }, 'quote.nonce_mismatch'],
    ['no failure recorded: the phase', { phase: 'Unreachable' }, 'phase Unreachable'],
    ['no status', undefined, 'phase Pending'],
  ] as const)('%s', (_n, status, expected) => {
    expect(quarantineReason(status)).toBe(expected);
  });

  it('bounds the text kept per node', () => {
    const r = quarantineReason({ phase: 'Untrusted', lastFailure: { reason: 'ima.digest_not_allowed', detail: 'x'.repeat(5000) } });
    expect(r).toHaveLength(QUARANTINE_REASON_MAX);
    expect(r.endsWith('…')).toBe(true);
  });
});
