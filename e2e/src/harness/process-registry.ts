import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { processStartTime, startReaper, type Reaper } from './reaper.js';

/** Something the exit handlers must clean up synchronously when the process dies before stop(). */
interface Leftover {
  /** The child's pid (its process group when detached), for the reaper. */
  readonly pid?: number | undefined;
  killSync(): void;
}

const processes = new Set<Leftover>();
const tempDirs = new Set<string>();
let installed = false;
/** The watcher that cleans up if this process dies without running its handlers (reaper.ts). */
let reaper: Reaper | undefined;

/**
 * Tracks a child so that process exit (or SIGINT/SIGTERM/SIGHUP) kills it if nobody stopped it,
 * and so that the reaper kills its process group if this process is killed outright.
 */
export function trackProcess(child: Leftover): void {
  installExitHandlers();
  processes.add(child);
  const start = child.pid === undefined ? undefined : processStartTime(child.pid);
  if (child.pid !== undefined && start !== undefined) currentReaper().record({ op: 'process', pid: child.pid, start });
}

/**
 * Tracks a spawned child until it exits: SIGKILLed by the exit and signal handlers if this process
 * ends first (a detached child, in its own process group, would otherwise outlive it).
 */
export function trackChild(child: ChildProcess): void {
  const leftover = { pid: child.pid, killSync: (): void => { child.kill('SIGKILL'); } };
  trackProcess(leftover);
  child.once('exit', () => untrackProcess(leftover));
}

/** Stops tracking a child that was stopped cleanly. */
export function untrackProcess(child: Leftover): void {
  if (!processes.delete(child)) return;
  if (child.pid !== undefined) reaper?.record({ op: 'process-gone', pid: child.pid });
  releaseReaperWhenIdle();
}

/** Tracks a temporary directory removed at process exit (or by the reaper) unless removed earlier. */
export function trackTempDir(dir: string): void {
  installExitHandlers();
  if (tempDirs.has(dir)) return;
  tempDirs.add(dir);
  currentReaper().record({ op: 'dir', path: dir });
}

/** Stops tracking a temporary directory that was removed. */
export function untrackTempDir(dir: string): void {
  if (!tempDirs.delete(dir)) return;
  reaper?.record({ op: 'dir-gone', path: dir });
  releaseReaperWhenIdle();
}

function currentReaper(): Reaper {
  reaper ??= startReaper();
  return reaper;
}

/** With nothing tracked the watcher has nothing to do: let it go (the next track starts another). */
function releaseReaperWhenIdle(): void {
  if (processes.size > 0 || tempDirs.size > 0) return;
  reaper?.release();
  reaper = undefined;
}

/** Kills every tracked child and removes every tracked directory, synchronously. */
export function cleanUpSync(): void {
  for (const child of processes) {
    child.killSync();
  }
  processes.clear();
  for (const dir of tempDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
  tempDirs.clear();
  releaseReaperWhenIdle();
}

function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanUpSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanUpSync();
      process.removeListener(signal, onSignal);
      // With our listener gone the default action (terminate) applies unless someone else handles it.
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
