import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/** Something the exit handlers must clean up synchronously when the process dies before stop(). */
interface Leftover {
  killSync(): void;
}

const processes = new Set<Leftover>();
const tempDirs = new Set<string>();
let installed = false;

/** Tracks a child so that process exit (or SIGINT/SIGTERM/SIGHUP) kills it if nobody stopped it. */
export function trackProcess(child: Leftover): void {
  installExitHandlers();
  processes.add(child);
}

/**
 * Tracks a spawned child until it exits: SIGKILLed by the exit and signal handlers if this process
 * ends first (a detached child, in its own process group, would otherwise outlive it).
 */
export function trackChild(child: ChildProcess): void {
  const leftover = { killSync: (): void => { child.kill('SIGKILL'); } };
  trackProcess(leftover);
  child.once('exit', () => untrackProcess(leftover));
}

/** Stops tracking a child that was stopped cleanly. */
export function untrackProcess(child: Leftover): void {
  processes.delete(child);
}

/** Tracks a temporary directory removed at process exit unless removed earlier. */
export function trackTempDir(dir: string): void {
  installExitHandlers();
  tempDirs.add(dir);
}

/** Stops tracking a temporary directory that was removed. */
export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
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
