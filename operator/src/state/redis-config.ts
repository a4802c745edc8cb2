import type { RedisOptions } from 'ioredis';

/** A Redis host and port (a sentinel's, or a standalone server's). */
export interface RedisAddress {
  host: string;
  port: number;
}

/** Credentials and transport shared by both topologies. Passwords come from the environment (a Secret), never logged. */
interface RedisAccess {
  db: number;
  username?: string;
  password?: string;
  /** TLS to Redis (and, with Sentinel, to the sentinels); `caFile` replaces the system CAs. */
  tls?: { caFile?: string };
}

/**
 * Where the operator's Redis is: one server (a URL: self-hosted, or a managed Redis's primary
 * endpoint, which the provider fails over behind one name), or a Sentinel group whose sentinels
 * name the current primary. Redis Cluster is not a topology Nodeward uses (README: Redis).
 */
export type RedisEndpoint =
  | ({ kind: 'standalone' } & RedisAddress & RedisAccess)
  | ({ kind: 'sentinel'; sentinels: RedisAddress[]; name: string; sentinelPassword?: string } & RedisAccess);

type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const set = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

function port(name: string, text: string, raw: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new Error(`${name}: ${JSON.stringify(raw)} has no valid port (1-65535)`);
  return n;
}

/** `host:port` or `[v6]:port`; the port is required (a sentinel's is not Redis's 6379). */
export function parseRedisAddress(name: string, raw: string): RedisAddress {
  const s = raw.trim();
  const m = /^\[([0-9A-Fa-f:.]+)\]:(.*)$/.exec(s) ?? /^([^:[\]\s]+):(.*)$/.exec(s);
  if (m === null) throw new Error(`${name}: ${JSON.stringify(raw)} is not host:port`);
  return { host: m[1]!, port: port(name, m[2]!, raw) };
}

function parseSentinels(raw: string): RedisAddress[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const sentinels = items.map((s) => parseRedisAddress('NODEWARD_REDIS_SENTINELS', s));
  const keys = sentinels.map((a) => `${a.host}:${a.port}`);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new Error(`NODEWARD_REDIS_SENTINELS: ${dup} is listed twice`);
  return sentinels;
}

function parseDb(raw: string | undefined, from: string): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw) || Number(raw) > 15) throw new Error(`${from}: database ${JSON.stringify(raw)} must be 0-15`);
  return Number(raw);
}

function parseTls(env: Env): boolean | undefined {
  const v = set(env['NODEWARD_REDIS_TLS']);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw new Error(`NODEWARD_REDIS_TLS must be true or false, got ${JSON.stringify(v)}`);
  return v === 'true';
}

/** The URL's parts; its password is never echoed in an error. */
function parseUrl(raw: string): { address: RedisAddress; db: number; tls: boolean; username?: string; password?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('NODEWARD_REDIS_URL is not a URL (redis://[user:password@]host:port[/db] or rediss://…)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`NODEWARD_REDIS_URL must be redis:// or rediss://, got ${url.protocol}//`);
  if (url.hostname === '') throw new Error('NODEWARD_REDIS_URL has no host');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  return {
    address: { host, port: url.port === '' ? 6379 : port('NODEWARD_REDIS_URL', url.port, `${url.protocol}//${url.host}`) },
    db: parseDb(url.pathname.replace(/^\//, ''), 'NODEWARD_REDIS_URL'), tls: url.protocol === 'rediss:',
    ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }),
  };
}

/** A credential given in the environment or in the URL, not both. */
function once(env: Env, what: 'username' | 'password', fromUrl: string | undefined): string | undefined {
  const name = `NODEWARD_REDIS_${what.toUpperCase()}`;
  const v = set(env[name]);
  if (v !== undefined && fromUrl !== undefined) throw new Error(`set the Redis ${what} once: ${name} or in NODEWARD_REDIS_URL, not both`);
  return v ?? fromUrl;
}

function access(env: Env, from: { db: number; tls: boolean; username?: string; password?: string }): RedisAccess {
  const user = once(env, 'username', from.username);
  const pass = once(env, 'password', from.password);
  const caFile = set(env['NODEWARD_REDIS_CA_FILE']);
  if (caFile !== undefined && !from.tls) throw new Error('NODEWARD_REDIS_CA_FILE is set but TLS is off (rediss:// or NODEWARD_REDIS_TLS=true)');
  return {
    db: from.db, ...(user === undefined ? {} : { username: user }), ...(pass === undefined ? {} : { password: pass }),
    ...(from.tls ? { tls: caFile === undefined ? {} : { caFile } } : {}),
  };
}

/**
 * The Redis endpoint from NODEWARD_REDIS_* (pure; errors name the variable and never echo a password):
 * - NODEWARD_REDIS_URL: one server, `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS.
 * - NODEWARD_REDIS_SENTINELS (`host:port,…`) with NODEWARD_REDIS_SENTINEL_NAME (the monitored
 *   primary's name), NODEWARD_REDIS_DB, NODEWARD_REDIS_TLS, NODEWARD_REDIS_SENTINEL_PASSWORD.
 * - Either: NODEWARD_REDIS_USERNAME, NODEWARD_REDIS_PASSWORD, NODEWARD_REDIS_CA_FILE (with TLS).
 * Setting both a URL and sentinels is refused rather than guessing which one was meant.
 */
export function parseRedisEndpoint(env: Env): RedisEndpoint {
  const url = set(env['NODEWARD_REDIS_URL']);
  const sentinels = set(env['NODEWARD_REDIS_SENTINELS']);
  const name = set(env['NODEWARD_REDIS_SENTINEL_NAME']);
  const tls = parseTls(env);
  if (sentinels === undefined) {
    for (const v of ['NODEWARD_REDIS_SENTINEL_NAME', 'NODEWARD_REDIS_SENTINEL_PASSWORD', 'NODEWARD_REDIS_DB', 'NODEWARD_REDIS_TLS']) {
      if (set(env[v]) !== undefined) throw new Error(`${v} is for Sentinel (NODEWARD_REDIS_SENTINELS); with NODEWARD_REDIS_URL put it in the URL`);
    }
    const u = parseUrl(url ?? DEFAULT_URL);
    return { kind: 'standalone', ...u.address, ...access(env, u) };
  }
  if (url !== undefined) throw new Error('set NODEWARD_REDIS_URL or NODEWARD_REDIS_SENTINELS, not both');
  if (name === undefined) throw new Error('NODEWARD_REDIS_SENTINEL_NAME (the primary\'s name in the sentinels\' configuration) is required with NODEWARD_REDIS_SENTINELS');
  const list = parseSentinels(sentinels);
  if (list.length === 0) throw new Error('NODEWARD_REDIS_SENTINELS lists no sentinel');
  const sentinelPassword = set(env['NODEWARD_REDIS_SENTINEL_PASSWORD']);
  return {
    kind: 'sentinel', sentinels: list, name, ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
    ...access(env, { db: parseDb(set(env['NODEWARD_REDIS_DB']), 'NODEWARD_REDIS_DB'), tls: tls ?? false }),
  };
}

/** Where the endpoint is, for logs: addresses and the primary's name, no credentials. */
export function describeRedisEndpoint(e: RedisEndpoint): string {
  switch (e.kind) {
    case 'standalone': return `${e.tls === undefined ? 'redis' : 'rediss'}://${e.host}:${e.port}/${e.db}`;
    case 'sentinel': return `sentinel ${e.name} via ${e.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} db ${e.db}${e.tls === undefined ? '' : ' (TLS)'}`;
  }
}

/** ioredis options in the shape BullMQ's ConnectionOptions also takes (indexable, a retry delay that is never null). */
export type RedisClientOptions = Omit<RedisOptions, 'retryStrategy'> & { retryStrategy: (attempt: number) => number } & Record<string, unknown>;

/** Reconnect delay: quick first attempts (a Sentinel failover takes seconds), never more than 2 s apart. */
export const redisRetryDelayMs = (attempt: number): number => Math.min(100 * attempt, 2_000);

/**
 * ioredis options for the endpoint, the same for the state client and BullMQ's connections
 * (`maxRetriesPerRequest: null`: commands wait out a failover instead of failing, which BullMQ's
 * workers require). With Sentinel, the client asks the sentinels for the primary on every
 * (re)connect, checks the server it reaches is a primary, and `failoverDetector` drops the
 * connection on the sentinels' +switch-master; a READONLY reply (a demoted primary still connected)
 * reconnects and resends the command.
 */
export function redisOptions(e: RedisEndpoint, caPem?: string): RedisClientOptions {
  const tls = e.tls === undefined ? undefined : caPem === undefined ? {} : { ca: caPem };
  const common: RedisClientOptions = {
    db: e.db, maxRetriesPerRequest: null, retryStrategy: redisRetryDelayMs,
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
    ...(e.username === undefined ? {} : { username: e.username }), ...(e.password === undefined ? {} : { password: e.password }),
    ...(tls === undefined ? {} : { tls }),
  };
  switch (e.kind) {
    case 'standalone': return { ...common, host: e.host, port: e.port };
    case 'sentinel': return {
      ...common, sentinels: e.sentinels.map((s) => ({ host: s.host, port: s.port })), name: e.name, failoverDetector: true,
      sentinelRetryStrategy: redisRetryDelayMs,
      ...(e.sentinelPassword === undefined ? {} : { sentinelPassword: e.sentinelPassword }),
      ...(tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: tls }),
    };
  }
}
