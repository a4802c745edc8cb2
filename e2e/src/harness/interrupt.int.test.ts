import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './repo-root.js';
import { processRunning as running } from './reaper.js';
import { pollUntil } from './wait.js';


/** Pids of processes whose command line mentions one of the directories. */
function processesUsing(dirs: readonly string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (dirs.some((d) => cmdline.includes(d)) && running(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** What a fixture started; `parent`: its own scratch directory (the swtpm CA), not the harness's to remove. */
interface Report { pids: number[]; dirs: string[]; worker: number; parent?: string }

/**
 * `make test` interrupted from the terminal: Jest runs two test files in two workers, one with etcd,
 * kube-apiserver and redis-server, one with an swtpm (its own process group); then the whole process
 * group gets SIGINT (Ctrl-C) or SIGTERM. Nothing the harness started may survive, nor its state.
 */
describe('an interrupted test run', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('leaves no server and no state directory after %s to its process group', async (signal) => {
    const reportDir = mkdtempSync(path.join(tmpdir(), 'nw-interrupt-report-'));
    const jest = path.join(repoRoot(), 'node_modules', 'jest', 'bin', 'jest.js');
    const fixtures = path.join('e2e', 'src', 'harness', 'interrupt-fixtures');
    const run = spawn(process.execPath, ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', jest, '--maxWorkers=2', '--ci', '--testMatch', '**/interrupt-fixtures/*.fixture.ts', fixtures], {
      cwd: repoRoot(), detached: true, stdio: 'ignore', env: { ...process.env, NODEWARD_INTERRUPT_REPORT_DIR: reportDir },
    });
    const exited = new Promise<void>((resolve) => run.once('exit', () => resolve()));
    const reports: Report[] = [];
    try {
      await pollUntil('both fixtures started their servers', () => Promise.resolve(
        ['servers.json', 'swtpm.json'].every((f) => existsSync(path.join(reportDir, f))) ? true : undefined), { timeoutMs: 180_000, intervalMs: 200 });
      for (const f of ['servers.json', 'swtpm.json']) reports.push(JSON.parse(readFileSync(path.join(reportDir, f), 'utf8')) as Report);
      const pids = reports.flatMap((r) => r.pids);
      const dirs = reports.flatMap((r) => r.dirs);
      expect(pids).toHaveLength(4);
      // Two workers, not the Jest process itself: the case where Jest kills its workers.
      expect(new Set(reports.map((r) => r.worker)).size).toBe(2);
      expect(reports.map((r) => r.worker)).not.toContain(run.pid);
      expect(pids.every(running)).toBe(true);
      expect(dirs.every((d) => existsSync(d))).toBe(true);

      process.kill(-(run.pid ?? 0), signal);
      await exited;
      await pollUntil('every server gone and every state directory removed', () => Promise.resolve(
        pids.some(running) || dirs.some((d) => existsSync(d)) || processesUsing(dirs).length > 0 ? undefined : true), { timeoutMs: 15_000, intervalMs: 100 })
        .catch(() => undefined);
      expect({ running: pids.filter(running), using: processesUsing(dirs), dirs: dirs.filter((d) => existsSync(d)) })
        .toEqual({ running: [], using: [], dirs: [] });
    } finally {
      try { process.kill(-(run.pid ?? 0), 'SIGKILL'); } catch { /* already gone */ }
      for (const pid of reports.flatMap((r) => r.pids)) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      for (const d of reports.flatMap((r) => [...r.dirs, r.parent ?? ''])) if (d !== '') rmSync(d, { recursive: true, force: true });
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 240_000);
});
