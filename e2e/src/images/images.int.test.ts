import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../harness/repo-root.js';
import { trackChild } from '../harness/process-registry.js';
import { phaseOf } from '../scenarios/kube-read.js';
import { OPERATOR_NODE_OPTIONS } from '../stack/operator-process.js';
import { attestationPolicy } from '../stack/policy.js';
import { AGENT_PORT, startStack, waitFor, type Stack, type StackNode } from '../stack/stack.js';
import { containerCommand, unpackImage, type UnpackedImage } from './image-process.js';

const run = promisify(execFile);

interface DaemonSetView { spec: { template: { spec: { containers: { args: string[] }[] } } } }

/**
 * `make images`' archives, run from their own filesystems (images/rootfs.sh): the operator as the image's
 * non-root user under the shipped ServiceAccount, the agent with the DaemonSet's own flags, against the
 * harness's kube-apiserver, Redis and an swtpm. A file, library, tool or permission missing from an image
 * fails here. The archives come from images/images.sh's cache when its inputs are unchanged; a fresh
 * build is made twice and must give the same bytes.
 */
describe('the OCI images (operator and agent from their own root filesystems)', () => {
  let dir: string;
  let stack: Stack | undefined;
  let agent: ChildProcess | undefined;
  const images: Record<string, UnpackedImage> = {};
  let digests = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodeward-images-'));
    await run('bash', [join(repoRoot(), 'images/images.sh'), join(dir, 'out')], { maxBuffer: 16 << 20 });
    digests = await readFile(join(dir, 'out/digests'), 'utf8');
    const tag = (JSON.parse(await readFile(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    for (const name of ['operator', 'agent']) images[name] = await unpackImage(join(dir, 'out', `${name}.oci.tar`), join(dir, name), tag);
  }, 900_000);

  afterAll(async () => {
    if (agent?.exitCode === null) agent.kill('SIGTERM');
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('names both images by digest', () => {
    expect(digests).toMatch(/^agent sha256:[0-9a-f]{64}\noperator sha256:[0-9a-f]{64}\n$/);
  });

  it('runs the operator as uid 65532 on a read-only root, and nothing of the build toolchain', async () => {
    const op = images['operator']!;
    expect([op.uid, op.gid]).toEqual([65532, 65532]);
    // What a compromised operator would look for; none of it is in the image.
    const absent = ['/bin/sh', '/usr/bin/apt', '/usr/bin/npm', '/app/node_modules/typescript', '/app/node_modules/jest', '/app/agent', '/app/operator/src'];
    const script = `const fs=require('fs');let w='writable';try{fs.writeFileSync('/app/x','')}catch(e){w=e.code}` +
      `console.log(process.getuid(),w,${JSON.stringify(absent)}.filter(p=>fs.existsSync(p)).join(','))`;
    const probe = containerCommand(op, { binds: [], env: {}, command: ['node', '-e', script] });
    const { stdout } = await run(probe.command, probe.args);
    expect(stdout.trim()).toBe('65532 EROFS');
  });

  it('trusts a node whose agent and operator both run from the images', async () => {
    const op = images['operator']!;
    stack = await startStack({ operatorLauncher: (env) => operatorFromImage(op, env, join(dir, 'operator-files')) });
    const node = await stack.addNode('image-node', { 'nodeward.io/attest': 'true' }, { startAgent: false, ip: await freeAgentAddress() });
    agent = await startAgentFromImage(stack, images['agent']!, node);
    await stack.startOperator();
    await stack.apply([attestationPolicy({ name: 'fleet', selector: { 'nodeward.io/attest': 'true' }, verityRootHash: stack.verityRootHash })]);
    await waitFor('image-node Trusted', async () => (await phaseOf(stack!, 'image-node')) === 'Trusted', 120_000).catch(async (e: unknown) => {
      const logs = await Promise.all([stack!.operators[0]!.logFile, join(stack!.dir, 'agent-image-node-image.log')].map(async (f) => (await readFile(f, 'utf8').catch(() => '')).slice(-3000)));
      throw new Error(`${String(e)}\noperator: ${logs[0]}\nagent: ${logs[1]}`);
    });
  }, 300_000);
});

/**
 * An address nothing listens on at the agent port, outside every Jest worker's block (127.0.1-240.*): the
 * machine is shared, and another run's agents may hold this process's first addresses.
 */
async function freeAgentAddress(): Promise<string> {
  for (let y = 1; y <= 254; y++) {
    const ip = `127.0.250.${y}`;
    if (!(await run('ss', ['-Hltn', `src ${ip}:${AGENT_PORT}`])).stdout.includes(ip)) return ip;
  }
  throw new Error('no free address in 127.0.250.*');
}

const OPERATOR_FILES = ['KUBECONFIG', 'NODEWARD_AGENT_CLIENT_CERT', 'NODEWARD_AGENT_CLIENT_KEY', 'NODEWARD_AGENT_CA'] as const;

/**
 * The operator image with the Deployment's heap cap. Its files (the ServiceAccount token's kubeconfig, the
 * agent client certificate) are handed over as a Secret volume would be: copies readable by the image's
 * user only, in one read-only directory.
 */
function operatorFromImage(image: UnpackedImage, env: Record<string, string>, files: string): { command: string; args: string[] } {
  mkdirSync(files, { recursive: true, mode: 0o755 });
  const mapped: Record<string, string> = { ...env, NODE_OPTIONS: OPERATOR_NODE_OPTIONS };
  for (const key of OPERATOR_FILES) {
    const name = key.toLowerCase();
    copyFileSync(env[key]!, join(files, name));
    chownSync(join(files, name), image.uid, image.gid);
    chmodSync(join(files, name), 0o400);
    mapped[key] = `/etc/nodeward/operator/${name}`;
  }
  return containerCommand(image, { binds: [{ source: files, target: '/etc/nodeward/operator', readOnly: true }], env: mapped });
}

/** The agent image with the shipped DaemonSet's flags, read back from the API server, pointed at this node's swtpm. */
async function startAgentFromImage(stack: Stack, image: UnpackedImage, node: StackNode): Promise<ChildProcess> {
  const { name, ip, sim: { tcti, hostRoot } } = node;
  const ds = JSON.parse(await stack.kubectl(['get', 'daemonset', 'nodeward-agent', '-n', 'nodeward-system', '-o', 'json'])) as DaemonSetView;
  const shipped = ds.spec.template.spec.containers[0]!.args;
  const here: Record<string, string> = { listen: `${ip}:${AGENT_PORT}`, tcti, 'verity-source': 'files' };
  const args = shipped.map((a) => {
    const flag = /^--([a-z-]+)=/.exec(a)?.[1];
    return flag !== undefined && here[flag] !== undefined ? `--${flag}=${here[flag]}` : a;
  });
  const tls = join(stack.dir, `agent-tls-${name}`);
  await mkdir(tls, { recursive: true });
  const pair = await stack.pki.agentServerCert(ip, name);
  await writeFile(join(tls, 'tls.crt'), pair.certPem);
  await writeFile(join(tls, 'tls.key'), pair.keyPem, { mode: 0o600 });
  await writeFile(join(tls, 'client-ca.crt'), stack.pki.operatorCa.certPem);
  // The DaemonSet's mounts: the host root (securityfs, the credential directory) and the TLS Secret.
  const cmd = containerCommand(image, {
    binds: [{ source: hostRoot, target: '/host' }, { source: tls, target: '/etc/nodeward/tls', readOnly: true }],
    // The DaemonSet's downward-API environment: the host's IP and the node's name.
    env: { NODE_IP: ip, NODE_NAME: name }, args,
  });
  const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const log = createWriteStream(join(stack.dir, `agent-${name}-image.log`));
  log.on('error', () => undefined);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const logFile = join(stack.dir, `agent-${name}-image.log`);
  await waitFor(`agent of ${name} listening`, async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${text}`);
    return text.includes('"msg":"agent listening"');
  }, 60_000);
  return child;
}
