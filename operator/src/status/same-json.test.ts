import { sameJson } from './same-json.js';

/** The meaning sameJson must keep: JSON with object keys sorted (what the status check compared before). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v);
}

const status = {
  phase: 'Trusted', consecutiveMisses: 0, observedGeneration: 2, enforcement: { tainted: false, cordoned: false },
  conditions: [{ type: 'Trusted', status: 'True', reason: 'Verified', lastTransitionTime: '2026-11-23T10:00:00Z', observedGeneration: 2 }],
  lastAttestationTime: '2026-11-23T10:00:00Z', lastSuccessTime: '2026-11-23T10:00:00Z',
};

describe('sameJson', () => {
  it.each<[string, unknown, unknown, boolean]>([
    ['equal primitives', 'a', 'a', true],
    ['different strings', 'a', 'b', false],
    ['number vs its string', 1, '1', false],
    ['null vs empty object', null, {}, false],
    ['empty object vs empty array', {}, [], false],
    ['key order does not count', { a: 1, b: 2 }, { b: 2, a: 1 }, true],
    ['undefined-valued key counts as absent', { a: 1, b: undefined }, { a: 1 }, true],
    ['undefined-valued key, the other side', { a: 1 }, { a: 1, b: undefined }, true],
    ['a missing key', { a: 1, b: 2 }, { a: 1 }, false],
    ['an extra key', { a: 1 }, { a: 1, b: 2 }, false],
    ['same key count, other keys', { a: 1, b: 2 }, { a: 1, c: 2 }, false],
    ['null value vs absent', { a: null }, {}, false],
    ['nested difference', { a: { b: [1, { c: 'x' }] } }, { a: { b: [1, { c: 'y' }] } }, false],
    ['nested equal, other order', { a: { b: [1, { c: 'x', d: true }] } }, { a: { b: [1, { d: true, c: 'x' }] } }, true],
    ['array order counts', [1, 2], [2, 1], false],
    ['array length', [1], [1, 1], false],
    ['undefined array element is null', [undefined], [null], true],
    ['inherited name is not a key', { constructor: 1 }, {}, false],
    ['a status and its copy', status, structuredClone(status), true],
    ['a condition transition', status, { ...status, conditions: [{ ...status.conditions[0]!, status: 'False' }] }, false],
  ])('%s', (_name, a, b, equal) => {
    expect(sameJson(a, b)).toBe(equal);
    expect(sameJson(b, a)).toBe(equal);
    // The same answer as comparing canonical JSON.
    expect(canonicalJson(a) === canonicalJson(b)).toBe(equal);
  });

  it('leaves ignored top-level keys out, at the top level only', () => {
    const times = new Set(['lastAttestationTime', 'lastSuccessTime']);
    const later = { ...status, lastAttestationTime: '2026-11-23T10:00:10Z', lastSuccessTime: '2026-11-23T10:00:10Z' };
    expect(sameJson(status, later)).toBe(false);
    expect(sameJson(status, later, times)).toBe(true);
    const noSuccess: Partial<typeof later> = { ...later };
    delete noSuccess.lastSuccessTime;
    expect(sameJson(status, noSuccess, times)).toBe(true);
    expect(sameJson(status, { ...later, phase: 'Untrusted' }, times)).toBe(false);
    expect(sameJson({ a: { lastSuccessTime: 1 } }, { a: { lastSuccessTime: 2 } }, times)).toBe(false);
  });

  it('agrees with canonical JSON on random status-like values', () => {
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const leaf = (): unknown => [null, undefined, 0, 1, 'x', 'y', true][rnd(7)];
    const value = (depth: number): unknown => {
      if (depth === 0 || rnd(3) === 0) return leaf();
      if (rnd(2) === 0) return Array.from({ length: rnd(3) }, () => value(depth - 1));
      return Object.fromEntries(Array.from({ length: rnd(4) }, () => [['a', 'b', 'c'][rnd(3)]!, value(depth - 1)]));
    };
    let equal = 0;
    for (let i = 0; i < 5000; i++) {
      const a = value(3);
      const b = rnd(2) === 0 ? structuredClone(a) : value(3);
      const expected = canonicalJson(a) === canonicalJson(b);
      expect(sameJson(a, b)).toBe(expected);
      if (expected) equal++;
    }
    expect(equal).toBeGreaterThan(1000);
  });
});
