import { jitterMs, MAX_SLOTS, queueLagMs, replicaQueueName, shardFromId, shardOf } from './round-job.js';

describe('jitterMs', () => {
  it('is deterministic and within [0, interval)', () => {
    expect(jitterMs('node-a', 60_000)).toBe(jitterMs('node-a', 60_000));
    expect(jitterMs('node-a', 60_000)).not.toBe(jitterMs('node-b', 60_000));
    for (let i = 0; i < 1000; i++) {
      const j = jitterMs(`n${i}`, 7);
      expect(j >= 0 && j < 7 && Number.isInteger(j)).toBe(true);
    }
  });

  it('spreads 10000 nodes evenly over the interval (each tenth within ±15%)', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[Math.floor(jitterMs(`worker-${i}.cluster.local`, 60_000) / 6000)]!++;
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(150);
  });

  it('rejects a non-positive interval', () => {
    expect(() => jitterMs('n', 0)).toThrow(RangeError);
  });
});

describe('queueLagMs', () => {
  it('measures from the due time of a promoted delayed job (BullMQ zeroed job.delay), not from its creation', () => {
    // A job-scheduler tick created at t=1000 for the slot 10 s later, started 250 ms after its slot.
    expect(queueLagMs({ timestamp: 1000, delay: 0, opts: { delay: 10_000 } }, 11_250)).toBe(250);
  });

  it('handles immediate jobs, a still-set live delay, and early starts', () => {
    expect(queueLagMs({ timestamp: 1000, opts: {} }, 1040)).toBe(40);
    expect(queueLagMs({ timestamp: 1000, delay: 5000 }, 6100)).toBe(100);
    expect(queueLagMs({ timestamp: 1000, delay: 0, opts: { delay: 10_000 } }, 10_000)).toBe(0);
  });
});

describe('shardOf', () => {
  it('spreads the nodes of an interval over a slot every 100 ms, deterministically', () => {
    const offsets = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const sh = shardOf(`n${i}`, 10_000);
      expect(sh).toEqual(shardOf(`n${i}`, 10_000));
      expect(sh.offset % 100).toBe(0);
      expect(sh.offset).toBeLessThan(10_000);
      expect(sh.id).toBe(`10000:${sh.offset / 100}`);
      offsets.add(sh.offset);
    }
    expect(offsets.size).toBe(100);
  });

  it('caps the slots of a long interval and keeps one slot for a short one', () => {
    const slots = new Set<string>();
    for (let i = 0; i < 20_000; i++) slots.add(shardOf(`n${i}`, 3_600_000).id);
    expect(slots.size).toBe(MAX_SLOTS);
    expect(shardOf('a', 50)).toEqual({ id: '50:0', every: 50, offset: 0 });
  });
});

describe('shardFromId', () => {
  it('gives back the shard shardOf made, for every interval shape', () => {
    for (const every of [1, 50, 1000, 10_000, 30_000, 300_000, 86_400_000]) {
      for (let i = 0; i < 200; i++) expect(shardFromId(shardOf(`n-${i}`, every).id)).toEqual(shardOf(`n-${i}`, every));
    }
  });

  it.each(['', 'shard:10000:1', '10000', '10000:', ':1', '0:0', '10000:100', '10000:01', '-5:1', '1e4:1', '10000:1:2'])('rejects %j', (id) => {
    expect(shardFromId(id)).toBeUndefined();
  });
});

describe('replicaQueueName', () => {
  it('keeps pod names and replaces what a Redis key or BullMQ name should not hold', () => {
    expect(replicaQueueName('nodeward-rounds', 'nodeward-operator-7d9f-abc12')).toBe('nodeward-rounds-replica-nodeward-operator-7d9f-abc12');
    expect(replicaQueueName('q', 'a:b/c d')).toBe('q-replica-a_b_c_d');
  });
});
