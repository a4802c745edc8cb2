import { findCondition, sameConditions, setCondition, setConditions } from './conditions.js';
import type { Condition } from './resources.js';

const t0 = new Date('2025-01-01T00:00:00Z');
const t1 = new Date('2025-01-01T00:05:00Z');
const base: Condition = {
  type: 'Trusted', status: 'True', reason: 'AttestationPassed', message: 'ok', lastTransitionTime: t0.toISOString(), observedGeneration: 1,
};

describe('setCondition', () => {
  it.each([
    ['appends a new type', undefined, { type: 'Trusted', status: 'True', reason: 'R', message: 'm' }, t1.toISOString()],
    ['keeps time when status unchanged', [base], { type: 'Trusted', status: 'True', reason: 'Other', message: 'changed' }, t0.toISOString()],
    ['moves time when status changes', [base], { type: 'Trusted', status: 'False', reason: 'AttestationFailed', message: 'x' }, t1.toISOString()],
    ['moves time from Unknown to True', [{ ...base, status: 'Unknown' }], { type: 'Trusted', status: 'True', reason: 'R', message: 'm' }, t1.toISOString()],
  ] as const)('%s', (_name, list, input, expectedTime) => {
    const out = setCondition(list, input, 2, t1);
    const c = findCondition(out, 'Trusted')!;
    expect(c.lastTransitionTime).toBe(expectedTime);
    expect(c.status).toBe(input.status);
    expect(c.reason).toBe(input.reason);
    expect(c.message).toBe(input.message);
    expect(c.observedGeneration).toBe(2);
    expect(out).toHaveLength(1);
  });

  it('does not mutate its input and preserves other conditions in order', () => {
    const other: Condition = { ...base, type: 'QuoteVerified' };
    const input = [other, base];
    const out = setCondition(input, { type: 'Trusted', status: 'False', reason: 'R', message: 'm' }, 3, t1);
    expect(input[1]).toEqual(base);
    expect(out.map((c) => c.type)).toEqual(['QuoteVerified', 'Trusted']);
    expect(out[0]).toBe(other);
  });

  it('setConditions applies in order and sameConditions compares content', () => {
    const a = setConditions(undefined, [
      { type: 'A', status: 'True', reason: 'R', message: '' },
      { type: 'B', status: 'False', reason: 'R', message: '' },
    ], 1, t0);
    const b = setConditions(a, [{ type: 'B', status: 'False', reason: 'R', message: '' }], 1, t1);
    expect(sameConditions(a, b)).toBe(true);
    const c = setConditions(a, [{ type: 'B', status: 'True', reason: 'R', message: '' }], 1, t1);
    expect(sameConditions(a, c)).toBe(false);
    expect(sameConditions([...a].reverse(), a)).toBe(true);
  });
});
