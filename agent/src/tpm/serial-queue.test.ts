import { SerialQueue } from './serial-queue.js';

describe('SerialQueue', () => {
  it('runs jobs one at a time in order, and a failure does not stop the queue', async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const job = (name: string, fail = false) => async (): Promise<string> => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([q.run(job('a')), q.run(job('b', true)), q.run(job('c'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(q.length).toBe(0);
  });
});
