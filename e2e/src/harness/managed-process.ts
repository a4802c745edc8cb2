import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { trackProcess, untrackProcess } from './process-registry.js';

/** What to run and where its output goes. */
export interface ManagedProcessOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended to this file. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** How a child ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A child process in its own process group (so stop() reaches anything it forks), logging to a file,
 * tracked so that it is killed if the test process exits first.
 */
export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  private exitStatus: ExitStatus | undefined;
  private readonly exited: Promise<ExitStatus>;
  private stopping: Promise<void> | undefined;

  private constructor(opts: ManagedProcessOptions, child: ChildProcess, pid: number) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        untrackProcess(this);
        resolve(this.exitStatus);
      });
    });
    trackProcess(this);
  }

  /** Spawns the process; resolves once it is running, rejects if it cannot be started. */
  static start(opts: ManagedProcessOptions): Promise<ManagedProcess> {
    const fd = openSync(opts.logFile, 'a');
    try {
      const child = spawn(opts.command, opts.args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: opts.env ?? process.env,
        cwd: opts.cwd,
      });
      return new Promise((resolve, reject) => {
        child.once('error', (error) => reject(new Error(`${opts.name}: cannot start ${opts.command}: ${error.message}`)));
        child.once('spawn', () => resolve(new ManagedProcess(opts, child, child.pid ?? -1)));
      });
    } finally {
      closeSync(fd);
    }
  }

  /** Undefined while running; how it ended otherwise. */
  get exit(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Throws, with the end of the log, if the process has exited. */
  assertRunning(): void {
    if (this.exitStatus === undefined) return;
    const { code, signal } = this.exitStatus;
    throw new Error(`${this.name} exited (code ${String(code)}, signal ${String(signal)}); last log lines:\n${this.logTail()}`);
  }

  /** The last lines of the process log. */
  logTail(lines = 25): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  stop(graceMs = 5000): Promise<void> {
    this.stopping ??= this.terminate(graceMs);
    return this.stopping;
  }

  /** SIGKILL to the process group (a crash); resolves once the process has exited. */
  async kill(): Promise<void> {
    this.killSync();
    await this.exited;
  }

  /** SIGKILL to the process group, for exit handlers that cannot wait. */
  killSync(): void {
    if (this.exitStatus === undefined) signalGroup(this.pid, 'SIGKILL');
  }

  private async terminate(graceMs: number): Promise<void> {
    if (this.exitStatus !== undefined) return;
    signalGroup(this.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      signalGroup(this.pid, 'SIGKILL');
      await this.exited;
    }
    // The group may hold children that outlived the leader.
    signalGroup(this.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
