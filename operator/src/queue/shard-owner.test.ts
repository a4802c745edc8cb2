import { seededRandom as prng } from '@nodeward/attest/testing';
import { MAX_SLOTS, shardOf } from './round-job.js';
import { ownerOf, ownerOfNode } from './shard-owner.js';

const INTERVALS = [1000, 2000, 10_000, 30_000, 60_000, 300_000];

/** A random replica name as Deployments and StatefulSets give them. */
function memberName(rnd: () => number): string {
  return rnd() < 0.5 ? `nodeward-operator-${Math.floor(rnd() * 20)}` : `nodeward-operator-7d9f${Math.floor(rnd() * 1e6).toString(36)}`;
}

function nodeName(rnd: () => number, i: number): string {
  const shapes = [`ip-10-${i % 256}-${Math.floor(rnd() * 256)}-${Math.floor(rnd() * 256)}.ec2.internal`, `gke-pool-${Math.floor(rnd() * 1e9).toString(36)}-${i}`, `node-${i}`, `${Math.floor(rnd() * 1e12).toString(16)}`];
  return shapes[i % shapes.length]!;
}

describe('ownerOf', () => {
  it('for any set of live members and any node, exactly one member owns the node (each member judging for itself)', () => {
    const rnd = prng(23);
    const wrong: unknown[] = [];
    for (let trial = 0; trial < 200; trial++) {
      const members = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 7) }, () => memberName(rnd)))];
      const interval = INTERVALS[trial % INTERVALS.length]!;
      for (let i = 0; i < 50; i++) {
        const node = nodeName(rnd, i);
        // What each replica decides about itself, from the same membership in its own order.
        const shuffled = (): string[] => [...members].sort(() => rnd() - 0.5);
        const claimants = members.filter((me) => ownerOfNode(node, interval, shuffled()) === me);
        if (claimants.length !== 1) wrong.push({ node, interval, members, claimants });
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no member owns anything of an empty membership, and duplicates change nothing', () => {
    expect(ownerOf('10000:3', [])).toBeUndefined();
    for (let s = 0; s < 100; s++) expect(ownerOf(`10000:${s}`, ['a', 'b', 'a', 'c', 'b'])).toBe(ownerOf(`10000:${s}`, ['c', 'b', 'a']));
  });

  it('spreads the shards of an interval evenly: 3 replicas × 600 slots, each within ±20 % of a third', () => {
    const members = ['nodeward-operator-0', 'nodeward-operator-1', 'nodeward-operator-2'];
    const count = new Map<string, number>();
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const o = ownerOf(`60000:${slot}`, members)!;
      count.set(o, (count.get(o) ?? 0) + 1);
    }
    for (const m of members) expect(Math.abs((count.get(m) ?? 0) - MAX_SLOTS / 3)).toBeLessThan(MAX_SLOTS / 3 * 0.2);
  });

  it('moves only the shards of a member that leaves, and a joining member takes shards only for itself', () => {
    const before = ['a', 'b', 'c'];
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const id = `30000:${slot}`;
      const was = ownerOf(id, before)!;
      const afterLeave = ownerOf(id, ['a', 'c']);
      if (was !== 'b') expect(afterLeave).toBe(was);
      const afterJoin = ownerOf(id, [...before, 'd']);
      expect([was, 'd']).toContain(afterJoin);
    }
  });

  it('ownerOfNode is the owner of the shard the scheduler puts the node in', () => {
    const members = ['r0', 'r1', 'r2'];
    for (let i = 0; i < 500; i++) expect(ownerOfNode(`n-${i}`, 10_000, members)).toBe(ownerOf(shardOf(`n-${i}`, 10_000).id, members));
  });
});
