import { rateLimitedLog, redisNotReady } from './redis-client.js';

describe('rateLimitedLog', () => {
  it('writes a warning once per period per message and counts the ones it skipped', () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const sink = {
      info: (m: string, f?: Record<string, unknown>): void => { lines.push(['info', m, f]); },
      warn: (m: string, f?: Record<string, unknown>): void => { lines.push(['warn', m, f]); },
      error: (m: string, f?: Record<string, unknown>): void => { lines.push(['error', m, f]); },
    };
    const clock = { t: 0 };
    const log = rateLimitedLog(sink, 30_000, () => clock.t);
    for (let i = 0; i < 15; i++) {
      log.warn('redis connection error', { error: 'connect ECONNREFUSED 127.0.0.1:6379' });
      log.warn('round worker: redis error', { error: 'x' });
      clock.t += 2_000; // ioredis's reconnect back-off
    }
    log.info('redis connection restored');
    log.error('round failed', { node: 'n1' });
    log.error('round failed', { node: 'n2' });
    log.warn('redis connection error', { error: 'again' });
    expect(lines).toEqual([
      ['warn', 'redis connection error', { error: 'connect ECONNREFUSED 127.0.0.1:6379' }],
      ['warn', 'round worker: redis error', { error: 'x' }],
      ['info', 'redis connection restored', undefined],
      ['error', 'round failed', { node: 'n1' }],
      ['error', 'round failed', { node: 'n2' }],
      ['warn', 'redis connection error', { error: 'again', suppressed: 14 }],
    ]);
  });
});

it('is ready only with the connection ready', () => {
  expect(redisNotReady({ status: 'ready' })).toBeUndefined();
  expect((['connecting', 'reconnecting', 'close', 'end', 'wait'] as const).map((status) => redisNotReady({ status }))).toEqual(
    ['redis connecting', 'redis reconnecting', 'redis close', 'redis end', 'redis wait']);
});
