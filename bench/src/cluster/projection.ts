/**
 * A projection (not a measurement) of a fleet's sizing from per-node costs measured by the scale bench.
 * Linear: a replica's memory is a fixed base plus a cost per node it owns; CPU is a cost per round;
 * Redis a base plus a cost per node; API writes a rate per node.
 */
export interface MeasuredCosts {
  /** Replica RSS with no node in the fleet (MiB). */
  baseMiB: number;
  /** Replica RSS per owned node (MiB): its agent connections and round state. */
  perNodeMiB: number;
  /** Replica RSS per node of the fleet, owned or not (MiB): every replica's informer caches hold every Node and NodeAttestation. */
  perFleetNodeMiB: number;
  /** Operator CPU-seconds per round, all replicas together. */
  cpuPerRound: number;
  /** Redis used_memory per node (MiB) above its base. */
  redisPerNodeMiB: number;
  redisBaseMiB: number;
  /** API writes per node per 5 minutes. */
  writesPerNodePer5Min: number;
}

export interface Projection {
  nodes: number; intervalS: number;
  /** Infinity when no replica count fits the memory cap (the per-fleet-node caches alone exceed it). */
  replicas: number; roundsPerS: number;
  /** Operator cores, all replicas together, and per replica. */
  cores: number; coresPerReplica: number;
  memoryPerReplicaMiB: number; redisMiB: number; apiWritesPerS: number;
}

/**
 * The fewest replicas that keep each one under `memoryCapMiB` and `coresPerReplicaCap` (CPU and RSS
 * scale with the nodes a replica owns; shards spread a node count unevenly, so a replica is sized for
 * `imbalance` × its even share).
 */
export function project(c: MeasuredCosts, nodes: number, intervalS: number, o: { memoryCapMiB: number; coresPerReplicaCap: number; imbalance: number }): Projection {
  if (!(c.perNodeMiB > 0) || !(c.cpuPerRound > 0) || nodes <= 0 || intervalS <= 0) throw new RangeError('projection needs positive per-node costs, nodes and interval');
  if (c.baseMiB >= o.memoryCapMiB) throw new RangeError(`a replica's base memory (${c.baseMiB} MiB) is over the cap (${o.memoryCapMiB} MiB)`);
  const fixed = c.baseMiB + nodes * Math.max(0, c.perFleetNodeMiB);
  const roundsPerS = nodes / intervalS;
  const cores = roundsPerS * c.cpuPerRound;
  const byMemory = fixed >= o.memoryCapMiB ? Infinity : Math.ceil((nodes * c.perNodeMiB * o.imbalance) / (o.memoryCapMiB - fixed));
  const byCpu = Math.ceil((cores * o.imbalance) / o.coresPerReplicaCap);
  const replicas = Math.max(1, byMemory, byCpu);
  return {
    nodes, intervalS, replicas, roundsPerS, cores, coresPerReplica: (cores / replicas) * o.imbalance,
    memoryPerReplicaMiB: fixed + (Number.isFinite(replicas) ? (nodes / replicas) * o.imbalance * c.perNodeMiB : 0),
    redisMiB: c.redisBaseMiB + nodes * c.redisPerNodeMiB, apiWritesPerS: (nodes * c.writesPerNodePer5Min) / 300,
  };
}
