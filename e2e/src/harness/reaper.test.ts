import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pendingEntries, processRunning as running, processStartTime, startReaper, type ManifestEntry } from './reaper.js';
import { pollUntil } from './wait.js';

const line = (e: ManifestEntry): string => JSON.stringify(e);

describe('pendingEntries', () => {
  it.each([
    ['nothing', [], [], []],
    ['a process and a directory', [line({ op: 'process', pid: 7, start: '99' }), line({ op: 'dir', path: '/tmp/a' })], [[7, '99']], ['/tmp/a']],
    ['both gone again', [line({ op: 'process', pid: 7, start: '99' }), line({ op: 'dir', path: '/tmp/a' }), line({ op: 'process-gone', pid: 7 }), line({ op: 'dir-gone', path: '/tmp/a' })], [], []],
    ['a last line cut short by the owner\'s death', [line({ op: 'dir', path: '/tmp/a' }), '{"op":"dir","pa'], [], ['/tmp/a']],
  ] as [string, string[], [number, string][], string[]][])('%s', (_title, lines, processes, dirs) => {
    const p = pendingEntries(lines);
    expect([[...p.processes], [...p.dirs]]).toEqual([processes, dirs]);
  });
});

describe('the reaper', () => {
  it('reads a process start time from /proc, and none for a pid that is gone', () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(2 ** 22 + 1)).toBeUndefined();
  });

  it('kills the recorded process group and removes the recorded directory once its pipe closes', async () => {
    const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = child.pid ?? 0;
    child.unref();
    const dir = mkdtempSync(path.join(tmpdir(), 'nw-reaper-test-'));
    const kept = mkdtempSync(path.join(tmpdir(), 'nw-reaper-kept-'));
    const reaper = startReaper();
    reaper.record({ op: 'process', pid, start: processStartTime(pid) ?? '' });
    reaper.record({ op: 'dir', path: dir });
    reaper.record({ op: 'dir', path: kept });
    reaper.record({ op: 'dir-gone', path: kept });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([running(pid), existsSync(dir)]).toEqual([true, true]); // nothing happens while the pipe is open
    reaper.release();
    await pollUntil('the reaper cleaned up', () => Promise.resolve(running(pid) || existsSync(dir) ? undefined : true), { timeoutMs: 10_000, intervalMs: 50 })
      .catch(() => undefined);
    const left = { running: running(pid), dir: existsSync(dir), kept: existsSync(kept) };
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    (await import('node:fs')).rmSync(kept, { recursive: true, force: true });
    expect(left).toEqual({ running: false, dir: false, kept: true });
  });

  it('leaves a process alone whose pid was reused (another start time)', async () => {
    const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = child.pid ?? 0;
    child.unref();
    const reaper = startReaper();
    reaper.record({ op: 'process', pid, start: '1' });
    reaper.release();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const alive = running(pid);
    process.kill(pid, 'SIGKILL');
    expect(alive).toBe(true);
  });
});
