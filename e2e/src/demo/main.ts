import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../harness/repo-root.js';
import type { Stack } from '../stack/stack.js';
import { bringUp, playAttack } from './story.js';
import { Timeline } from './timeline.js';

/**
 * `make demo`: the whole product on this machine, then the story it exists for. With CI=true it runs
 * in the foreground and exits 0 only if every step happened. Otherwise a background process keeps
 * the cluster up afterwards (`make demo-down` stops it) and this process shows its output.
 */
const stateDir = join(repoRoot(), '.demo');
const logFile = join(stateDir, 'demo.log');
const pidFile = join(stateDir, 'demo.pid');
const READY = '=== DEMO READY ===';
const FAILED = '=== DEMO FAILED ===';

async function runStory(keepRunning: boolean): Promise<number> {
  await mkdir(stateDir, { recursive: true });
  const t = new Timeline((line) => process.stdout.write(`${line}\n`));
  let stack: Stack | undefined;
  const stop = async (): Promise<void> => { await stack?.stop(); };
  process.once('SIGTERM', () => { void stop().finally(() => process.exit(0)); });
  process.once('SIGINT', () => { void stop().finally(() => process.exit(130)); });
  try {
    stack = await bringUp(t, stateDir);
    await copyFile(stack.harness.kubeconfigPath, join(stateDir, 'kubeconfig'));
    await playAttack(stack, t);
    t.step('every step happened');
    if (!keepRunning) return 0;
    process.stdout.write(`\n${READY}\nThe cluster keeps running. Explore it:\n  export KUBECONFIG=${join(stateDir, 'kubeconfig')}\n  kubectl get nodeattestations,nodeattestationpolicies\n  kubectl get events -A\nStop it with: make demo-down\n`);
    await new Promise(() => undefined);
    return 0;
  } catch (e) {
    process.stdout.write(`\n${FAILED}\n${e instanceof Error ? e.message : String(e)}\n`);
    if (stack) process.stdout.write(`logs of the operator and agents: ${stack.dir}\n`);
    return 1;
  } finally {
    if (!keepRunning) await stop();
  }
}

/** Starts the story in a detached process and shows its log until it is ready (or failed). */
async function runDetached(): Promise<number> {
  await mkdir(stateDir, { recursive: true });
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try { process.kill(pid, 0); process.stderr.write(`a demo is already running (pid ${pid}); run make demo-down first\n`); return 1; } catch { /* stale */ }
  }
  await writeFile(logFile, '');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [process.argv[1]!, '--serve'], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  await writeFile(pidFile, String(child.pid));
  let shown = 0;
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    process.stdout.write(text.slice(shown));
    shown = text.length;
    if (text.includes(READY)) return 0;
    if (text.includes(FAILED) || child.exitCode !== null) return 1;
    await sleep(200);
  }
}

const ci = process.env['CI'] === 'true' || process.env['CI'] === '1';
const mode = process.argv.includes('--serve') ? 'serve' : ci ? 'ci' : 'detached';
process.exitCode = mode === 'serve' ? await runStory(true) : mode === 'ci' ? await runStory(false) : await runDetached();
if (mode === 'ci') process.exit(process.exitCode);
