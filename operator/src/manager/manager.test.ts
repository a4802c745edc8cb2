import { silentLogger } from '../log.js';
import { Manager, runnable, type LeaderHooks } from './manager.js';

function setup(): { manager: Manager; hooks: LeaderHooks; log: string[]; elector: { started: boolean; stopped: boolean } } {
  const log: string[] = [];
  const elector = { started: false, stopped: false };
  let hooks: LeaderHooks | undefined;
  const manager = new Manager({
    log: silentLogger,
    elector: (h) => {
      hooks = h;
      return { start: () => { elector.started = true; }, stop: () => { elector.stopped = true; h.onStoppedLeading(); return Promise.resolve(); } };
    },
    onLeadership: (l) => log.push(`leading=${String(l)}`),
  });
  const r = (name: string, leader: boolean): ReturnType<typeof runnable> => runnable(name, leader, () => { log.push(`start ${name}`); }, () => { log.push(`stop ${name}`); });
  manager.add(r('informers', false), r('worker', false), r('controller', true), r('resync', true));
  return { manager, hooks: hooks!, log, elector };
}
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Manager', () => {
  it('starts every-replica components in order, then joins the election; leader components wait for leadership', async () => {
    const { manager, log, elector } = setup();
    await manager.start();
    expect(log).toEqual(['start informers', 'start worker']);
    expect(elector.started).toBe(true);
    expect(manager.isLeader()).toBe(false);
  });

  it('starts the leader components on election and stops them, in reverse, when leadership is lost', async () => {
    const { manager, hooks, log } = setup();
    await manager.start();
    hooks.onStartedLeading();
    await settle();
    hooks.onStoppedLeading();
    await settle();
    expect(log.slice(2)).toEqual(['leading=true', 'start controller', 'start resync', 'leading=false', 'stop resync', 'stop controller']);
  });

  it('stop leaves the election first, then stops the other components in reverse order', async () => {
    const { manager, hooks, log, elector } = setup();
    await manager.start();
    hooks.onStartedLeading();
    await settle();
    await manager.stop();
    expect(elector.stopped).toBe(true);
    expect(log.slice(5)).toEqual(['leading=false', 'stop resync', 'stop controller', 'stop worker', 'stop informers']);
  });

  it('whileLeading runs the function only while leading (a follower records, the leader acts)', async () => {
    const { manager, hooks } = setup();
    const calls: number[] = [];
    const act = manager.whileLeading((n: number) => { calls.push(n); return Promise.resolve(); });
    await manager.start();
    await act(1);
    hooks.onStartedLeading();
    await act(2);
    hooks.onStoppedLeading();
    await act(3);
    expect(calls).toEqual([2]);
  });

  it('a leader component that fails to start is logged and the others still start', async () => {
    const { manager, hooks, log } = setup();
    manager.add(runnable('broken', true, () => { throw new Error('boom'); }), runnable('after', true, () => { log.push('start after'); }));
    await manager.start();
    hooks.onStartedLeading();
    await settle();
    expect(log).toContain('start after');
  });
});
