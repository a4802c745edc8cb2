import { cpuDeltaByKind, type CpuSnapshot } from './cpu-profile.js';

const snap = (xs: [string, string, number][]): CpuSnapshot['cpu'] => new Map(xs.map(([key, kind, seconds]) => [key, { kind, seconds }]));

describe('cpuDeltaByKind', () => {
  it('counts each process from where it was (under the kind it has now), one born in the window from zero, and sums by kind', () => {
    // A kernel worker's comm changes with its workqueue: process 10 is the same one under another name.
    const before = snap([['10@5', 'kworker/0:1-events', 40], ['11@5', 'operator', 3], ['12@6', 'swtpm', 1]]);
    const after = snap([['10@5', 'kernel workers (kworker)', 40.5], ['11@5', 'operator', 4.25], ['12@6', 'swtpm', 1.5], ['13@90', 'swtpm', 0.25]]);
    expect(Object.fromEntries(cpuDeltaByKind(before, after))).toEqual({ 'kernel workers (kworker)': 0.5, operator: 1.25, swtpm: 0.75 });
  });

  it('a pid reused by a new process (another start time) counts from zero, not against the old one', () => {
    const before = snap([['20@5', 'swtpm', 9]]);
    const after = snap([['20@70', 'swtpm', 0.5]]);
    expect(cpuDeltaByKind(before, after).get('swtpm')).toBe(0.5);
  });
});
