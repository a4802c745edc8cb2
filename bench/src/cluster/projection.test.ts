import { project } from './projection.js';

const costs = { baseMiB: 120, perNodeMiB: 0.07, perFleetNodeMiB: 0, cpuPerRound: 0.0005, redisPerNodeMiB: 0.001, redisBaseMiB: 1, writesPerNodePer5Min: 1 };

describe('project', () => {
  it('takes the replicas memory or CPU needs, whichever is more, and sizes each for its uneven share', () => {
    // 65,000 nodes at 30 s: 2,167 rounds/s × 0.5 ms = 1.08 cores; memory: 65,000 × 0.07 × 1.1 / (384 - 120) = 18.96 → 19.
    const p = project(costs, 65_000, 30, { memoryCapMiB: 384, coresPerReplicaCap: 1, imbalance: 1.1 });
    expect(p.replicas).toBe(19);
    expect(p.roundsPerS).toBeCloseTo(2166.7, 1);
    expect(p.cores).toBeCloseTo(1.083, 3);
    expect(p.memoryPerReplicaMiB).toBeLessThanOrEqual(384);
    expect(p.redisMiB).toBeCloseTo(66, 5);
    expect(p.apiWritesPerS).toBeCloseTo(216.7, 1);
    // CPU-bound: a tenth of a core per replica, memory plentiful.
    expect(project(costs, 65_000, 30, { memoryCapMiB: 4096, coresPerReplicaCap: 0.1, imbalance: 1 }).replicas).toBe(11);
  });

  it('finds no replica count when the caches of the whole fleet alone exceed the cap', () => {
    // 120 MiB + 65,000 × 4 KiB = 374 MiB before any owned node: 10 MiB left per replica.
    const tight = project({ ...costs, perFleetNodeMiB: 4 / 1024 }, 65_000, 30, { memoryCapMiB: 384, coresPerReplicaCap: 1, imbalance: 1 });
    expect(tight.replicas).toBe(Math.ceil((65_000 * 0.07) / (384 - 120 - 65_000 * 4 / 1024)));
    const over = project({ ...costs, perFleetNodeMiB: 8 / 1024 }, 65_000, 30, { memoryCapMiB: 384, coresPerReplicaCap: 1, imbalance: 1 });
    expect(over.replicas).toBe(Infinity);
    expect(over.memoryPerReplicaMiB).toBeCloseTo(120 + 65_000 * 8 / 1024, 5);
  });

  it('refuses costs that cannot project', () => {
    expect(() => project({ ...costs, perNodeMiB: 0 }, 1000, 10, { memoryCapMiB: 384, coresPerReplicaCap: 1, imbalance: 1 })).toThrow(RangeError);
    expect(() => project({ ...costs, baseMiB: 400 }, 1000, 10, { memoryCapMiB: 384, coresPerReplicaCap: 1, imbalance: 1 })).toThrow(/base/);
  });
});
