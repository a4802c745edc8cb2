import { describeRedisEndpoint, parseRedisAddress, parseRedisEndpoint, redisOptions, redisRetryDelayMs, type RedisEndpoint } from './redis-config.js';

describe('parseRedisEndpoint', () => {
  it.each<[string, Record<string, string>, RedisEndpoint]>([
    ['the default', {}, { kind: 'standalone', host: '127.0.0.1', port: 6379, db: 0 }],
    ['an empty URL (unset)', { NODEWARD_REDIS_URL: '' }, { kind: 'standalone', host: '127.0.0.1', port: 6379, db: 0 }],
    ['a URL with user, password, db', { NODEWARD_REDIS_URL: 'redis://nw:p%40ss@redis.svc:6380/3' },
      { kind: 'standalone', host: 'redis.svc', port: 6380, db: 3, username: 'nw', password: 'p@ss' }],
    ['rediss:// with a CA file and the password from its own variable', { NODEWARD_REDIS_URL: 'rediss://primary.cache.example', NODEWARD_REDIS_PASSWORD: 's', NODEWARD_REDIS_CA_FILE: '/ca.pem' },
      { kind: 'standalone', host: 'primary.cache.example', port: 6379, db: 0, password: 's', tls: { caFile: '/ca.pem' } }],
    ['an IPv6 URL', { NODEWARD_REDIS_URL: 'redis://[::1]:7000' }, { kind: 'standalone', host: '::1', port: 7000, db: 0 }],
    ['sentinels', { NODEWARD_REDIS_SENTINELS: ' 10.0.0.1:26379, s2:26380,[fd00::3]:26379 ', NODEWARD_REDIS_SENTINEL_NAME: 'nodeward' },
      { kind: 'sentinel', name: 'nodeward', db: 0, sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 's2', port: 26380 }, { host: 'fd00::3', port: 26379 }] }],
    ['sentinels with TLS, passwords and a db', {
      NODEWARD_REDIS_SENTINELS: 's:26379', NODEWARD_REDIS_SENTINEL_NAME: 'm', NODEWARD_REDIS_TLS: 'true', NODEWARD_REDIS_DB: '2',
      NODEWARD_REDIS_PASSWORD: 'data', NODEWARD_REDIS_SENTINEL_PASSWORD: 'sent', NODEWARD_REDIS_USERNAME: 'nw',
    }, { kind: 'sentinel', name: 'm', db: 2, sentinels: [{ host: 's', port: 26379 }], username: 'nw', password: 'data', sentinelPassword: 'sent', tls: {} }],
  ])('reads %s', (_, env, want) => {
    expect(parseRedisEndpoint(env)).toEqual(want);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['both topologies', { NODEWARD_REDIS_URL: 'redis://r:6379', NODEWARD_REDIS_SENTINELS: 's:26379', NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /NODEWARD_REDIS_URL or NODEWARD_REDIS_SENTINELS, not both/],
    ['sentinels without a name', { NODEWARD_REDIS_SENTINELS: 's:26379' }, /NODEWARD_REDIS_SENTINEL_NAME .* is required/],
    ['a sentinel without a port', { NODEWARD_REDIS_SENTINELS: 's', NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /NODEWARD_REDIS_SENTINELS: "s" is not host:port/],
    ['a port out of range', { NODEWARD_REDIS_SENTINELS: 's:70000', NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /"s:70000" has no valid port/],
    ['a port that is no number', { NODEWARD_REDIS_SENTINELS: 's:26379x', NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /has no valid port/],
    ['a sentinel twice', { NODEWARD_REDIS_SENTINELS: 's:1,t:2,s:1', NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /s:1 is listed twice/],
    ['only commas', { NODEWARD_REDIS_SENTINELS: ' , ', NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /lists no sentinel/],
    ['a name without sentinels', { NODEWARD_REDIS_SENTINEL_NAME: 'm' }, /NODEWARD_REDIS_SENTINEL_NAME is for Sentinel/],
    ['TLS flag with a URL', { NODEWARD_REDIS_TLS: 'true' }, /NODEWARD_REDIS_TLS is for Sentinel.*in the URL/],
    ['a TLS flag that is not a boolean', { NODEWARD_REDIS_SENTINELS: 's:1', NODEWARD_REDIS_SENTINEL_NAME: 'm', NODEWARD_REDIS_TLS: 'yes' }, /NODEWARD_REDIS_TLS must be true or false/],
    ['a CA file without TLS', { NODEWARD_REDIS_URL: 'redis://r', NODEWARD_REDIS_CA_FILE: '/ca.pem' }, /NODEWARD_REDIS_CA_FILE is set but TLS is off/],
    ['a db out of range', { NODEWARD_REDIS_URL: 'redis://r/16' }, /database "16" must be 0-15/],
    ['a db that is no number', { NODEWARD_REDIS_SENTINELS: 's:1', NODEWARD_REDIS_SENTINEL_NAME: 'm', NODEWARD_REDIS_DB: 'one' }, /NODEWARD_REDIS_DB: database "one"/],
    ['another scheme', { NODEWARD_REDIS_URL: 'http://r:6379' }, /must be redis:\/\/ or rediss:\/\/, got http:\/\//],
    ['not a URL', { NODEWARD_REDIS_URL: '127.0.0.1:6379' }, /NODEWARD_REDIS_URL is not a URL/],
    ['a password twice', { NODEWARD_REDIS_URL: 'redis://:a@r', NODEWARD_REDIS_PASSWORD: 'b' }, /password once/],
  ])('refuses %s', (_, env, error) => {
    expect(() => parseRedisEndpoint(env)).toThrow(error);
  });

  it('never echoes a password in an error', () => {
    const errors = [
      { NODEWARD_REDIS_URL: 'redis://:hunter2@r:99999' },
      { NODEWARD_REDIS_URL: 'redis://:hunter2@r/99' },
      { NODEWARD_REDIS_URL: 'redis://:hunter2@r', NODEWARD_REDIS_PASSWORD: 'hunter3' },
      { NODEWARD_REDIS_URL: 'ftp://:hunter2@r' },
    ].map((env) => { try { parseRedisEndpoint(env); return 'no error'; } catch (e) { return (e as Error).message; } });
    expect(errors.every((m) => m !== 'no error' && !m.includes('hunter'))).toBe(true);
  });
});

it('parses host:port and [v6]:port', () => {
  expect(parseRedisAddress('X', 'h:1')).toEqual({ host: 'h', port: 1 });
  expect(parseRedisAddress('X', '[::1]:2')).toEqual({ host: '::1', port: 2 });
  expect(() => parseRedisAddress('X', '::1:2')).toThrow(/X: "::1:2" is not host:port/);
  expect(() => parseRedisAddress('X', 'h:0')).toThrow(/no valid port/);
});

describe('redisOptions', () => {
  it('gives BullMQ and the state store a standalone server with waiting commands', () => {
    const o = redisOptions(parseRedisEndpoint({ NODEWARD_REDIS_URL: 'rediss://u:p@r:6380/1' }), 'CA');
    expect(o).toMatchObject({ host: 'r', port: 6380, db: 1, username: 'u', password: 'p', tls: { ca: 'CA' }, maxRetriesPerRequest: null });
    expect(o.sentinels).toBeUndefined();
  });

  it('gives a Sentinel group with failover detection, and TLS to the sentinels too', () => {
    const o = redisOptions(parseRedisEndpoint({ NODEWARD_REDIS_SENTINELS: 'a:1,b:2', NODEWARD_REDIS_SENTINEL_NAME: 'm', NODEWARD_REDIS_TLS: 'true', NODEWARD_REDIS_SENTINEL_PASSWORD: 'sp' }));
    expect(o).toMatchObject({
      sentinels: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }], name: 'm', failoverDetector: true, sentinelPassword: 'sp',
      tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {}, maxRetriesPerRequest: null,
    });
    expect(o.host).toBeUndefined();
    const plain = redisOptions(parseRedisEndpoint({ NODEWARD_REDIS_SENTINELS: 'a:1', NODEWARD_REDIS_SENTINEL_NAME: 'm' }));
    expect([plain.tls, plain.enableTLSForSentinelMode]).toEqual([undefined, undefined]);
  });

  it('reconnects on READONLY (a demoted primary) and on nothing else', () => {
    const { reconnectOnError } = redisOptions(parseRedisEndpoint({}));
    expect(reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnError?.(new Error('ERR unknown command'))).toBe(false);
  });

  it('retries quickly at first and at most every 2 s', () => {
    expect([1, 5, 20, 1000].map(redisRetryDelayMs)).toEqual([100, 500, 2000, 2000]);
  });
});

it('describes an endpoint without its credentials', () => {
  expect(describeRedisEndpoint(parseRedisEndpoint({ NODEWARD_REDIS_URL: 'rediss://u:secret@r:1/2' }))).toBe('rediss://r:1/2');
  expect(describeRedisEndpoint(parseRedisEndpoint({ NODEWARD_REDIS_SENTINELS: 'a:1,b:2', NODEWARD_REDIS_SENTINEL_NAME: 'm', NODEWARD_REDIS_PASSWORD: 'secret' })))
    .toBe('sentinel m via a:1,b:2 db 0');
});
