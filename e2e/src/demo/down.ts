import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../harness/repo-root.js';

/** `make demo-down`: stops the background demo (it tears down every process it started). */
const pidFile = join(repoRoot(), '.demo', 'demo.pid');
let pid: number;
try {
  pid = Number(readFileSync(pidFile, 'utf8'));
} catch {
  process.stdout.write('no demo is running\n');
  process.exit(0);
}
const alive = (): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
if (alive()) {
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150 && alive(); i++) await sleep(200);
  if (alive()) process.kill(pid, 'SIGKILL');
}
rmSync(pidFile, { force: true });
process.stdout.write('demo stopped\n');
