import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { redisOptions, type RedisClientOptions, type RedisEndpoint } from './redis-config.js';

type LogFields = Record<string, string | number | boolean | undefined>;
/** Structured log sink (the operator's logger fits). */
export interface RedisLog {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * A log whose warnings are written at most once per `everyMs` per message (info and error lines
 * pass): while Redis is down every client reports every reconnect attempt (ioredis retries every
 * 2 s, BullMQ has three clients), so the first is logged and the next ones are counted into
 * `suppressed` on the next line written.
 */
export function rateLimitedLog(log: RedisLog, everyMs: number, now: () => number = Date.now): RedisLog {
  const last = new Map<string, { at: number; suppressed: number }>();
  const warn = (msg: string, fields: LogFields = {}): void => {
    const seen = last.get(msg);
    const t = now();
    if (seen !== undefined && t - seen.at < everyMs) {
      seen.suppressed += 1;
      return;
    }
    last.set(msg, { at: t, suppressed: 0 });
    log.warn(msg, seen === undefined || seen.suppressed === 0 ? fields : { ...fields, suppressed: seen.suppressed });
  };
  return { info: (msg, fields) => log.info(msg, fields), warn, error: (msg, fields) => log.error(msg, fields) };
}

/**
 * The operator's own ioredis client (node state). Its errors go to the structured log (an ioredis
 * client without an 'error' listener prints "[ioredis] Unhandled error event: …" to stderr), and
 * the loss and return of the connection are logged once each.
 */
export function createRedisClient(options: RedisOptions, log: RedisLog): Redis {
  // Auto-pipelining: the state GETs and SETs of a shard's concurrent rounds share socket writes. A
  // pipeline in flight when the primary dies is resent to the new one like any queued command.
  const redis = new Redis({ ...options, enableAutoPipelining: true });
  let lost = false;
  redis.on('error', (e: Error) => log.warn('redis connection error', { client: 'state', error: e.message }));
  redis.on('close', () => {
    if (!lost && redis.status !== 'end') log.warn('redis connection lost', { client: 'state' });
    lost = true;
  });
  redis.on('ready', () => {
    if (lost) log.info('redis connection restored', { client: 'state' });
    lost = false;
  });
  return redis;
}

/** Why the operator is not ready because of Redis (rounds cannot run), or undefined when it is connected. */
export function redisNotReady(redis: Pick<Redis, 'status'>): string | undefined {
  return redis.status === 'ready' ? undefined : `redis ${redis.status}`;
}

/** ioredis options for every Redis client (BullMQ's and the state store's); a TLS CA file is read here. */
export function redisConnection(endpoint: RedisEndpoint): RedisClientOptions {
  const caFile = endpoint.tls?.caFile;
  return redisOptions(endpoint, caFile === undefined ? undefined : readFileSync(caFile, 'utf8'));
}
