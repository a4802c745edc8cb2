import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo-root.js';
import { trackChild } from '../harness/process-registry.js';

/** A real operator replica: `node operator/dist/main.js`, configured through its environment. */
export interface OperatorProcess {
  readonly identity: string;
  readonly logFile: string;
  readonly httpPort: number;
  pid(): number | undefined;
  /** SIGKILL simulates a crash; SIGTERM a clean shutdown. Resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** The V8 heap flags config/manager/deployment.yaml sets (NODE_OPTIONS), so tests and benches run what is shipped. */
export const OPERATOR_NODE_OPTIONS = '--max-old-space-size=320 --max-semi-space-size=16';

/**
 * How an operator replica is started from its environment: by default `node operator/dist/main.js` from
 * the repository; the image test starts it from the operator image instead (e2e/src/images).
 */
export type OperatorLauncher = (env: Record<string, string>) => { command: string; args: string[] };

export function startOperatorProcess(opts: { identity: string; env: Record<string, string>; logDir: string; httpPort: number; launcher?: OperatorLauncher }): OperatorProcess {
  const logFile = join(opts.logDir, `${opts.identity}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const env = { ...opts.env, POD_NAME: opts.identity, NODEWARD_HTTP_PORT: String(opts.httpPort) };
  const launch = opts.launcher?.(env) ?? { command: process.execPath, args: [...OPERATOR_NODE_OPTIONS.split(' '), join(repoRoot(), 'operator/dist/main.js')] };
  const child = spawn(launch.command, launch.args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    identity: opts.identity, logFile, httpPort: opts.httpPort,
    pid: () => (child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
