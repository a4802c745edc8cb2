import type { Redis } from 'ioredis';
import type { NodeStateStore, StoredRoundState as RoundState } from '../ports.js';
import { parseRoundState, serializeRoundState } from './parse-round-state.js';

/** Structured log sink (the operator's logger fits). */
export interface StateLog {
  warn(msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
}

export interface RedisNodeStateStoreOptions {
  /** A connected ioredis client; the store does not close it. */
  redis: Redis;
  /** Key prefix. Default `nodeward:state:` (key = prefix + node name). */
  prefix?: string;
  log?: StateLog;
}

/**
 * Per-node round state in Redis: one JSON string per node. A value that does not parse as a
 * RoundState is logged and read as absent, so the next round does a full verification.
 */
export class RedisNodeStateStore implements NodeStateStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly log: StateLog | undefined;

  constructor(opts: RedisNodeStateStoreOptions) {
    this.redis = opts.redis;
    this.prefix = opts.prefix ?? 'nodeward:state:';
    this.log = opts.log;
  }

  key(nodeName: string): string {
    return this.prefix + nodeName;
  }

  async get(nodeName: string): Promise<RoundState | undefined> {
    const text = await this.redis.get(this.key(nodeName));
    if (text === null) return undefined;
    const parsed = parseRoundState(text);
    if ('corrupt' in parsed) {
      this.log?.warn('corrupt node state ignored: full verification next round', { node: nodeName, field: parsed.corrupt });
      return undefined;
    }
    return parsed;
  }

  async put(nodeName: string, state: RoundState): Promise<void> {
    await this.redis.set(this.key(nodeName), serializeRoundState(state));
  }

  async delete(nodeName: string): Promise<void> {
    await this.redis.del(this.key(nodeName));
  }
}
