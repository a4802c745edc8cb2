import { retryBackoffMs, WorkQueue } from './work-queue.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('deduplicates keys and never runs a key twice at once', async () => {
    const seen: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const q = new WorkQueue(async (k) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      seen.push(k);
      await sleep(20);
      inFlight -= 1;
    }, { concurrency: 4 });
    q.add('a');
    q.add('a');
    q.add('b');
    await sleep(5);
    q.add('a'); // while a runs: runs once more afterwards
    q.add('a');
    await sleep(100);
    await q.drained();
    expect(seen.sort()).toEqual(['a', 'a', 'b']);
    expect(maxInFlight).toBe(2);
  });

  it('addWithin throttles: a steady stream of calls runs the key once per period, not never', async () => {
    const seen: number[] = [];
    const q = new WorkQueue(async () => Promise.resolve(void seen.push(Date.now())));
    const start = Date.now();
    const stream = setInterval(() => q.addWithin('policy/p', 50), 5);
    await sleep(180);
    clearInterval(stream);
    await sleep(60);
    q.stop();
    // addAfter would restart the wait on every call and never run; addWithin runs every ~50 ms.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThanOrEqual(5);
    expect(seen[0]! - start).toBeGreaterThanOrEqual(45);
  });

  it('retries a throwing key with growing backoff, then resets', async () => {
    const times: number[] = [];
    const errors: number[] = [];
    const q = new WorkQueue(async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('boom');
      return Promise.resolve();
    }, { baseBackoffMs: 20, onError: (_k, _e, attempt) => errors.push(attempt) });
    q.add('k');
    await sleep(400);
    expect(errors).toEqual([1, 2, 3]);
    expect(times).toHaveLength(4);
    q.stop();
  });

  it('doubles the backoff per consecutive failure up to the cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryBackoffMs(n, 20, 100))).toEqual([20, 40, 80, 100, 100]);
  });

  it('requeues after the requested delay', async () => {
    let n = 0;
    const q = new WorkQueue(async () => {
      n += 1;
      return Promise.resolve(n < 3 ? { requeueAfterMs: 10 } : undefined);
    });
    q.add('k');
    await sleep(150);
    expect(n).toBe(3);
    q.stop();
  });
});
