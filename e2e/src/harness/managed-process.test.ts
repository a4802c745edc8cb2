import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { pollUntil } from './wait.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nodeward-proc-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ManagedProcess', () => {
  it('kills the whole process group, escalating to SIGKILL when SIGTERM is ignored', async () => {
    const logFile = path.join(dir, 'stubborn.log');
    // The leader ignores SIGTERM and forks a grandchild that would outlive it.
    const child = await ManagedProcess.start({ name: 'stubborn', command: 'bash', args: ['-c', "trap '' TERM; sleep 300 & echo $! >&2; wait"], logFile });
    const grandchild = await pollUntil('grandchild pid', async () => {
      const { readFile } = await import('node:fs/promises');
      const pid = Number((await readFile(logFile, 'utf8')).trim());
      return pid > 0 ? pid : undefined;
    }, { timeoutMs: 5000 });
    expect(isAlive(child.pid) && isAlive(grandchild)).toBe(true);
    const t0 = Date.now();
    await child.stop(300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(child.exit?.signal).toBe('SIGKILL');
    await pollUntil('grandchild gone', () => Promise.resolve(isAlive(grandchild) ? undefined : true), { timeoutMs: 5000 });
    await child.stop();
  });

  it('reports an early exit with the end of its log', async () => {
    const child = await ManagedProcess.start({ name: 'failing', command: 'bash', args: ['-c', 'echo listen tcp: address already in use >&2; exit 3'], logFile: path.join(dir, 'failing.log') });
    await pollUntil('exit', () => Promise.resolve(child.exit), { timeoutMs: 5000 });
    expect(() => child.assertRunning()).toThrow(/failing exited \(code 3[^]*address already in use/);
  });

  it('rejects when the command does not exist', async () => {
    await expect(ManagedProcess.start({ name: 'missing', command: path.join(dir, 'no-such-binary'), args: [], logFile: path.join(dir, 'missing.log') })).rejects.toThrow('missing: cannot start');
  });
});
