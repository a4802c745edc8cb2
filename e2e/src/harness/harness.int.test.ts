import * as k8s from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startHarness } from './harness.js';
import { repoRoot } from './repo-root.js';
import { pollUntil } from './wait.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

/** One RESP command over a raw socket; resolves with the first reply line. */
function redisCommand(url: string, ...args: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const lines = reply.split('\r\n');
      const complete = reply.startsWith('$') && !reply.startsWith('$-1') ? lines.length >= 3 : lines.length >= 2;
      if (!complete) return;
      socket.end();
      resolve(reply.startsWith('$') && !reply.startsWith('$-1') ? lines[1]! : lines[0]!);
    });
  });
}

describe('startHarness', () => {
  it('starts, stops and starts again (three times), leaving no process and no directory behind', async () => {
    for (let round = 1; round <= 3; round++) {
      const logLines: string[] = [];
      const harness = await startHarness({ log: (line) => logLines.push(line) });
      const pids = harness.pids();
      expect(pids).toHaveLength(3);
      expect(pids.every(isAlive)).toBe(true);

      expect(logLines).toHaveLength(1);
      const logged = JSON.parse(logLines[0]!) as { msg: string; startupMs: number; phases: Record<string, number> };
      expect(logged.msg).toBe('testenv.started');
      expect(logged.startupMs).toBe(harness.startupMs);
      expect(Object.keys(logged.phases).sort()).toEqual(['apiserver', 'binaries', 'crds', 'etcd', 'pki', 'redis']);

      const namespaces = await harness.kubeConfig.makeApiClient(k8s.CoreV1Api).listNamespace();
      expect(namespaces.items.map((ns) => ns.metadata?.name)).toContain('default');
      expect(await redisCommand(harness.redisUrl, 'PING')).toBe('+PONG');
      const whoami = await harness.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.groups}']);
      expect(whoami.stdout).toContain('system:masters');

      await harness.stop();
      await harness.stop();
      expect(pids.filter(isAlive)).toEqual([]);
      expect(existsSync(harness.tempDir)).toBe(false);
    }
  });

  it('restarts Redis empty on the same URL, and can stop and start it', async () => {
    const harness = await startHarness({ installCrds: false });
    try {
      const [firstRedis] = harness.pids().slice(2);
      expect(await redisCommand(harness.redisUrl, 'SET', 'k', 'v')).toBe('+OK');
      expect(await redisCommand(harness.redisUrl, 'GET', 'k')).toBe('v');

      await harness.restartRedis({ downtimeMs: 50 });
      expect(isAlive(firstRedis!)).toBe(false);
      expect(await redisCommand(harness.redisUrl, 'GET', 'k')).toBe('$-1');

      await harness.stopRedis();
      await expect(redisCommand(harness.redisUrl, 'PING')).rejects.toThrow(/ECONNREFUSED/);
      await harness.startRedis();
      expect(await redisCommand(harness.redisUrl, 'PING')).toBe('+PONG');
      expect(harness.pids()).toHaveLength(5);
    } finally {
      await harness.stop();
    }
    expect(harness.pids().filter(isAlive)).toEqual([]);
  });

  it('authorizes as production clusters do: a kubelet may edit only its own Node, never its taints or restricted labels', async () => {
    const harness = await startHarness({ installCrds: false, redis: false });
    try {
      for (const name of ['node-1', 'node-2']) {
        const created = await harness.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name } }) });
        expect(created.code).toBe(0);
      }
      const kubelet = await harness.kubeletIdentity('node-2');
      const whoami = await kubelet.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username} {.status.userInfo.groups}']);
      expect(whoami.stdout).toBe('system:node:node-2 ["system:nodes","system:authenticated"]');
      expect((await kubelet.kubectl(['label', 'node', 'node-2', 'team=a'])).code).toBe(0);
      const other = await kubelet.kubectl(['label', 'node', 'node-1', 'team=a']);
      expect(other.stderr).toMatch(/forbidden/i);
      const restricted = await kubelet.kubectl(['label', 'node', 'node-2', 'node-restriction.kubernetes.io/pool=a']);
      expect(restricted.stderr).toMatch(/is not allowed to modify labels/);
      const taint = await kubelet.kubectl(['taint', 'node', 'node-2', 'x=y:NoSchedule']);
      expect(taint.stderr).toMatch(/is not allowed to modify taints/);
      const secrets = await kubelet.kubectl(['get', 'secrets', '-A']);
      expect(secrets.stderr).toMatch(/forbidden/i);
    } finally {
      await harness.stop();
    }
  });

  it('installs no CRDs and starts no Redis when asked not to', async () => {
    const harness = await startHarness({ installCrds: false, redis: false });
    try {
      expect(harness.redisUrl).toBe('');
      expect(harness.pids()).toHaveLength(2);
      const crds = await harness.kubeConfig.makeApiClient(k8s.ApiextensionsV1Api).listCustomResourceDefinition();
      expect(crds.items).toEqual([]);
      await expect(harness.restartRedis()).rejects.toThrow('redis: false');
    } finally {
      await harness.stop();
    }
  });
});

describe('the exit handlers', () => {
  // A separate Node process starts the compiled harness (e2e/dist) and dies without calling stop().
  const entry = path.join(repoRoot(), 'e2e', 'dist', 'index.js');
  const deaths: [string, string][] = [
    ['an uncaught exception', "setTimeout(() => { throw new Error('test failed'); }, 10);"],
    ['process.exit(1)', 'process.exit(1);'],
    ['SIGTERM', "process.kill(process.pid, 'SIGTERM');"],
  ];

  it.each(deaths)('kill every child and remove the directory when the process dies of %s', async (_how, die) => {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
    const script = `import { startHarness } from ${JSON.stringify(pathToFileURL(entry).href)};
      const h = await startHarness({ installCrds: false, log: () => {} });
      process.stdout.write(JSON.stringify({ pids: h.pids(), tempDir: h.tempDir }) + '\\n');
      ${die}`;
    const { stdout, code, signal } = await new Promise<{ stdout: string; code: number | null; signal: string | null }>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', script], (_error, out) => resolve({ stdout: out, code: child.exitCode, signal: child.signalCode }));
    });
    expect(code !== 0 || signal !== null).toBe(true);
    const { pids, tempDir } = JSON.parse(stdout.trim()) as { pids: number[]; tempDir: string };
    expect(pids).toHaveLength(3);
    // SIGKILLed orphans are reaped by init, not by us: allow that a moment.
    await pollUntil('orphans reaped', () => Promise.resolve(pids.some((pid) => isAlive(pid)) ? undefined : true), { timeoutMs: 5000 }).catch(() => undefined);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(tempDir)).toBe(false);
  });

  it('kill a simulated node\'s swtpm (its own process group) when the process dies of SIGTERM, as make demo-down ends the demo', async () => {
    const sim = path.join(repoRoot(), 'e2e', 'dist', 'sim', 'swtpm.js');
    if (!existsSync(sim)) throw new Error(`${sim} is missing: run npm run build first`);
    const script = `import { mkdtemp } from 'node:fs/promises';
      import { tmpdir } from 'node:os';
      import { join } from 'node:path';
      import { createSwtpmCa, startSwtpm } from ${JSON.stringify(pathToFileURL(sim).href)};
      const dir = await mkdtemp(join(tmpdir(), 'nw-swtpm-exit-'));
      const tpm = await startSwtpm({ ca: await createSwtpmCa(join(dir, 'ca')), stateDir: join(dir, 'tpm') });
      process.stdout.write(JSON.stringify({ pid: tpm.pid(), dir }) + '\\n');
      process.kill(process.pid, 'SIGTERM');`;
    const { stdout, signal } = await new Promise<{ stdout: string; signal: string | null }>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', script], (_error, out) => resolve({ stdout: out, signal: child.signalCode }));
    });
    expect(signal).toBe('SIGTERM');
    const { pid, dir } = JSON.parse(stdout.trim()) as { pid: number; dir: string };
    await pollUntil('swtpm gone', () => Promise.resolve(isAlive(pid) ? undefined : true), { timeoutMs: 5000 }).catch(() => undefined);
    const alive = isAlive(pid);
    if (alive) process.kill(pid, 'SIGKILL');
    await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
    expect(alive).toBe(false);
  });
});
