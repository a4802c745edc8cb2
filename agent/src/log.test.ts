import { createLogger, RateLimitedLog } from './log.js';

describe('RateLimitedLog', () => {
  it('writes one line per key per interval and reports how many it suppressed', () => {
    const lines: Record<string, unknown>[] = [];
    let now = 0;
    const log = new RateLimitedLog(createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }), 1000, () => now);
    for (let i = 0; i < 10_000; i++) log.write('warn', 'tls', 'tls client rejected', { error: `e${i}` });
    log.write('info', 'forbidden', 'request forbidden');
    now = 999;
    log.write('warn', 'tls', 'tls client rejected', { error: 'late' });
    now = 1000;
    log.write('warn', 'tls', 'tls client rejected', { error: 'next' });
    log.write('warn', 'tls', 'tls client rejected', { error: 'again' });
    now = 5000;
    log.write('warn', 'tls', 'tls client rejected', { error: 'quiet' });
    expect(lines.map((l) => [l['msg'], l['error'], l['suppressed']])).toEqual([
      ['tls client rejected', 'e0', undefined],
      ['request forbidden', undefined, undefined],
      ['tls client rejected', 'next', 10_000],
      ['tls client rejected', 'quiet', 1],
    ]);
  });
});
