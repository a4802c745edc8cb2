import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../harness/repo-root.js';
import { processRunning as running } from '../harness/reaper.js';
import { pollUntil } from '../harness/wait.js';


/**
 * `make demo-down` ends the demo by SIGTERM: the stack, its simulated nodes' swtpm and their agents'
 * scratch directories (tpm2-tools files, /tmp/nodeward-agent-* before) must all go. The demo's
 * process runs with its own TMPDIR, which must be empty afterwards.
 */
describe('a stack ended by SIGTERM, as make demo-down ends the demo', () => {
  it('leaves nothing in its temporary directory, no agent scratch directory included', async () => {
    const stackModule = path.join(repoRoot(), 'e2e', 'dist', 'stack', 'stack.js');
    if (!existsSync(stackModule)) throw new Error(`${stackModule} is missing: run npm run build first`);
    const tmp = mkdtempSync(path.join(tmpdir(), 'nw-demo-down-'));
    const script = `import 'reflect-metadata';
      import { readdirSync } from 'node:fs';
      import { startStack } from ${JSON.stringify(pathToFileURL(stackModule).href)};
      const stack = await startStack();
      const node = await stack.addNode('demo-node-1');
      process.stdout.write(JSON.stringify({ swtpm: node.sim.swtpm.pid(), entries: readdirSync(process.env.TMPDIR) }) + '\\n');
      process.kill(process.pid, 'SIGTERM');`;
    try {
      const { stdout, signal } = await new Promise<{ stdout: string; signal: string | null }>((resolve) => {
        const child = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot(), env: { ...process.env, TMPDIR: tmp } },
          (_error, out, err) => resolve({ stdout: out, signal: child.signalCode ?? `none (exit ${String(child.exitCode)}): ${err.slice(-2000)}` }));
      });
      expect(signal).toBe('SIGTERM');
      const { swtpm, entries } = JSON.parse(stdout.trim()) as { swtpm: number; entries: string[] };
      expect(entries.some((e) => e.startsWith('nodeward-stack-'))).toBe(true); // the stack really lived in this TMPDIR
      await pollUntil('the temporary directory emptied', () => Promise.resolve(readdirSync(tmp).length === 0 && !running(swtpm) ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 100 }).catch(() => undefined);
      expect({ left: readdirSync(tmp), swtpmRunning: running(swtpm) }).toEqual({ left: [], swtpmRunning: false });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
