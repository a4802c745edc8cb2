import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A watcher outside this process that ends what the harness started when this process ends by any
 * means. The exit and signal handlers in process-registry.ts run only when this process may run
 * code; a Jest worker is SIGKILLed by Jest on Ctrl-C, and SIGKILL runs nothing. So the first tracked
 * child or directory starts a detached `node` (its own session: a terminal's SIGINT to our process
 * group does not reach it, and it ignores SIGINT, SIGTERM and SIGHUP) that holds the read end of a
 * pipe from this process. Each tracked child (pid and /proc start time, so a reused pid is never
 * hit) and directory is appended synchronously to a manifest; when the pipe closes (this process
 * died, or it has nothing tracked any more and closed it), the watcher SIGKILLs the recorded
 * process groups still running, waits for them to go, removes the recorded directories and the
 * manifest, and exits.
 */
export interface Reaper {
  record(entry: ManifestEntry): void;
  /** Closes the pipe: the watcher cleans up what is still recorded and exits. */
  release(): void;
}

export type ManifestEntry =
  | { op: 'process'; pid: number; start: string }
  | { op: 'process-gone'; pid: number }
  | { op: 'dir'; path: string }
  | { op: 'dir-gone'; path: string };

/** The fields of /proc/<pid>/stat after the command name (state first), or undefined when it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's start time (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** Alive and not a zombie waiting to be reaped. */
export function processRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** What is still recorded after replaying a manifest's lines. Pure. */
export function pendingEntries(lines: readonly string[]): { processes: Map<number, string>; dirs: Set<string> } {
  const processes = new Map<number, string>();
  const dirs = new Set<string>();
  for (const line of lines) {
    let e: ManifestEntry;
    try {
      e = JSON.parse(line) as ManifestEntry;
    } catch {
      continue; // a line cut short by the owner's death
    }
    switch (e.op) {
      case 'process': processes.set(e.pid, e.start); break;
      case 'process-gone': processes.delete(e.pid); break;
      case 'dir': dirs.add(e.path); break;
      case 'dir-gone': dirs.delete(e.path); break;
    }
  }
  return { processes, dirs };
}

// The watcher's program: plain JavaScript run with `node -e`, so it needs no build step. It repeats
// pendingEntries and processStartTime (kept in step by reaper.test.ts, which runs both).
const WATCHER = String.raw`
const { readFileSync, rmSync } = require('node:fs');
const manifest = process.argv[1];
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const startTime = (pid) => { try { const s = readFileSync('/proc/' + pid + '/stat', 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]; } catch { return undefined; } };
const state = (pid) => { try { const s = readFileSync('/proc/' + pid + '/stat', 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[0]; } catch { return undefined; } };
function reap() {
  let lines = [];
  try { lines = readFileSync(manifest, 'utf8').split('\n').filter((l) => l !== ''); } catch {}
  const processes = new Map(); const dirs = new Set();
  for (const line of lines) {
    let e; try { e = JSON.parse(line); } catch { continue; }
    if (e.op === 'process') processes.set(e.pid, e.start);
    else if (e.op === 'process-gone') processes.delete(e.pid);
    else if (e.op === 'dir') dirs.add(e.path);
    else if (e.op === 'dir-gone') dirs.delete(e.path);
  }
  const ours = [...processes].filter(([pid, start]) => startTime(pid) === start).map(([pid]) => pid);
  for (const pid of ours) { try { process.kill(-pid, 'SIGKILL'); } catch {} try { process.kill(pid, 'SIGKILL'); } catch {} }
  const deadline = Date.now() + 5000;
  const finish = () => {
    const alive = ours.filter((pid) => { const st = state(pid); return st !== undefined && st !== 'Z'; });
    if (alive.length > 0 && Date.now() < deadline) { setTimeout(finish, 20); return; }
    for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }); } catch {} }
    try { rmSync(manifest, { force: true }); } catch {}
    process.exit(0);
  };
  finish();
}
process.stdin.on('data', () => {});
process.stdin.on('end', reap);
process.stdin.on('close', reap);
process.stdin.on('error', reap);
`;

/** Starts a watcher for this process (see Reaper). */
export function startReaper(): Reaper {
  const manifest = path.join(tmpdir(), `nodeward-reaper-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.jsonl`);
  appendFileSync(manifest, '');
  const child = spawn(process.execPath, ['-e', WATCHER, manifest], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.unref();
  const stdin = child.stdin as (NodeJS.WritableStream & { unref?: () => void; destroy: () => void }) | null;
  stdin?.unref?.();
  // The watcher may be gone (killed by someone); writing to its pipe then must not kill us.
  stdin?.on('error', () => undefined);
  let released = false;
  return {
    record: (entry): void => {
      if (!released) appendFileSync(manifest, `${JSON.stringify(entry)}\n`);
    },
    release: (): void => {
      if (released) return;
      released = true;
      stdin?.destroy();
    },
  };
}

/** Removes a manifest left by a watcher that could not run (tests only). */
export function removeManifest(file: string): void {
  rmSync(file, { force: true });
}
