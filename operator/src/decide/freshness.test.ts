import { freshnessWindowMs, msUntilStale } from './freshness.js';

const now = new Date('2026-12-05T08:00:00Z');
const ago = (ms: number): string => new Date(now.getTime() - ms).toISOString();

describe('freshnessWindowMs', () => {
  it.each([
    ['1s interval, default heartbeat: heartbeat + 10 s floor', 1000, 300_000, 310_000],
    ['30s interval: heartbeat + 3 intervals', 30_000, 300_000, 390_000],
    ['1h interval', 3_600_000, 300_000, 11_100_000],
    ['short test heartbeat', 1000, 3000, 13_000],
  ])('%s', (_name, interval, heartbeat, want) => {
    expect(freshnessWindowMs(interval, heartbeat)).toBe(want);
  });
});

describe('msUntilStale', () => {
  it.each([
    ['Trusted, passed just now', { phase: 'Trusted', lastSuccessTime: ago(0) }, 13_000],
    ['Trusted, passed 12 s ago', { phase: 'Trusted', lastSuccessTime: ago(12_000) }, 1000],
    ['Trusted, passed exactly one window ago', { phase: 'Trusted', lastSuccessTime: ago(13_000) }, 0],
    ['Trusted, passed long ago', { phase: 'Trusted', lastSuccessTime: ago(60_000) }, -47_000],
    ['Trusted without a lastSuccessTime is stale', { phase: 'Trusted' }, 0],
    ['Trusted with a garbage lastSuccessTime is stale', { phase: 'Trusted', lastSuccessTime: 'yesterday' }, 0],
    ['Untrusted never goes stale (it is already not trusted)', { phase: 'Untrusted', lastSuccessTime: ago(60_000) }, undefined],
    ['Registered is not judged', { phase: 'Registered' }, undefined],
    ['Stale is already stale', { phase: 'Stale', lastSuccessTime: ago(60_000) }, undefined],
    ['no status', undefined, undefined],
  ] as const)('%s', (_name, status, want) => {
    expect(msUntilStale(status, 13_000, now)).toBe(want);
  });
});
