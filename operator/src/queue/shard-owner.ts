import { createHash } from 'node:crypto';
import { shardOf } from './round-job.js';

/**
 * Which live replica owns a shard: rendezvous (highest-random-weight) hashing. Every member scores
 * the shard with SHA-256(member ‖ 0x00 ‖ shard id) and the highest score wins; equal scores go to the
 * smaller name. A pure function of the shard id and the set of members (order and duplicates do not
 * matter), so replicas that read the same membership agree, and exactly one member of a non-empty set
 * owns each shard. When a member leaves, only its shards move (each to the next-highest member); when
 * one joins, it takes about 1/n of the shards from the others and nothing else moves.
 */
export function ownerOf(shardId: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = memberScore(m, shardId);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The owner of a node: the owner of its shard at its interval. The only path from a node name to a
 * replica, so the node → shard hash cannot differ between the one who schedules and the one who owns.
 */
export function ownerOfNode(nodeName: string, intervalMs: number, members: readonly string[]): string | undefined {
  return ownerOf(shardOf(nodeName, Math.max(1, Math.round(intervalMs))).id, members);
}

/** The member's weight for a shard: the first 48 bits of SHA-256(member ‖ 0x00 ‖ shard id). */
function memberScore(member: string, shardId: string): number {
  return createHash('sha256').update(member).update('\0').update(shardId).digest().readUIntBE(0, 6);
}
