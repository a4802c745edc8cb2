import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRuntimePolicy, parseImaBinaryLog } from '@nodeward/attest';
import { createLogger, startAgent, type RunningAgent } from '@nodeward/agent';
import { createSimulatedNode } from '../harness/simulated-node.js';
import { startHarness, type Harness } from '../harness/harness.js';
import { trackTempDir, untrackTempDir } from '../harness/process-registry.js';
import { freePort } from '../sim/free-port.js';
import { createMtlsPki, type MtlsPki } from '../sim/pki.js';
import { prepareSimNode, type SimNode } from '../sim/sim-node.js';
import { createSwtpmCa, manufactureTpm, readSwtpmCa, type SwtpmCa } from '../sim/swtpm.js';
import { installNodeward } from './install.js';
import { startOperatorProcess, type OperatorLauncher, type OperatorProcess } from './operator-process.js';
import { KNOWN_GOOD_FILES, NODEWARD_NAMESPACE, RUNTIME_POLICY_CONFIGMAP, TRUST_ANCHORS_CONFIGMAP, configMap } from './policy.js';

/**
 * The whole product on one machine, every part real: kube-apiserver + etcd + Redis (the harness),
 * simulated nodes each with its own swtpm and agent on its own loopback address, and operator
 * replicas as separate processes. Used by the end-to-end suite, the demo and the benchmarks. Nodeward is
 * installed from config/default and its operators run under the shipped ServiceAccount and RBAC (install.ts).
 */
export const AGENT_PORT = 9443;

export interface StackNode {
  readonly name: string;
  readonly ip: string;
  readonly sim: SimNode;
  agent?: RunningAgent;
  startAgent(): Promise<void>;
  stopAgent(): Promise<void>;
  /** Runs the known-good files (appends their IMA entries), as a freshly booted healthy node does. */
  runKnownGood(): Promise<void>;
}

export interface Stack {
  readonly harness: Harness;
  readonly dir: string;
  readonly pki: MtlsPki;
  readonly swtpmCa: SwtpmCa;
  readonly nodes: Map<string, StackNode>;
  readonly operators: OperatorProcess[];
  /** The fleet image's dm-verity root hash (the same on every simulated node). */
  readonly verityRootHash: string;
  /** A Node object, its swtpm and host root; its agent started too unless `startAgent: false`. */
  addNode(name: string, labels?: Record<string, string>, opts?: { startAgent?: boolean; ip?: string }): Promise<StackNode>;
  startOperator(identity?: string, env?: Record<string, string>): Promise<OperatorProcess>;
  apply(objects: object[]): Promise<string>;
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra operator environment (e.g. NODEWARD_LEASE_DURATION_MS). */
  operatorEnv?: Record<string, string>;
  /** Run kube-controller-manager (the CSR signer) in the harness; default false. */
  kubeControllerManager?: boolean;
  /** Starts operator replicas some other way than `node operator/dist/main.js` (the image test). */
  operatorLauncher?: OperatorLauncher;
  log?: (line: string) => void;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

/**
 * A known-good node's runtime policy and its dm-verity root hash: every simulated node boots the same
 * fleet image, so the probe's root hash is the fleet's.
 */
async function knownGoodNode(ca: { setupConfig: string }, dir: string): Promise<{ policyJson: string; rootHash: string }> {
  // The runtime policy is generated from a known-good node's log, as `nodeward ima policy create` does.
  const probe = await prepareSimNode({ name: 'known-good', ip: '127.0.0.1', baseDir: dir, ca });
  try {
    for (const f of KNOWN_GOOD_FILES) await probe.appendImaFile(f.path, f.contents);
    const log = await readFile(join(probe.hostRoot, 'sys/kernel/security/ima/binary_runtime_measurements'));
    const policy = createRuntimePolicy(parseImaBinaryLog(log));
    // The boot aggregate differs per boot; the verifier accepts the one computed from the quoted PCRs.
    delete policy.digests['boot_aggregate'];
    return { policyJson: JSON.stringify(policy, null, 2), rootHash: probe.verity.rootHash };
  } finally {
    await probe.stop();
  }
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? ((): void => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'nodeward-stack-'));
  const keep = process.env['NODEWARD_KEEP_TESTENV'] === '1';
  // Removed by the registry's exit and signal handlers too (make demo-down ends the demo by SIGTERM).
  if (!keep) trackTempDir(dir);
  // The CRDs come from config/default (install.ts), as in a cluster: their fields are kubectl's to upgrade.
  const harness = await startHarness({ log, installCrds: false, kubeControllerManager: opts.kubeControllerManager === true });
  const nodes = new Map<string, StackNode>();
  const operators: OperatorProcess[] = [];
  try {
    const pki = await createMtlsPki(join(dir, 'pki'));
    const swtpmCa = await readSwtpmCaAfterFirstTpm(join(dir, 'swtpm-ca'), dir);
    const { policyJson, rootHash } = await knownGoodNode(swtpmCa, join(dir, 'probe'));
    const files = { cert: join(dir, 'pki/operator-client.pem'), key: join(dir, 'pki/operator-client.key'), ca: join(dir, 'pki/agent-ca.pem') };
    await writeFile(files.cert, pki.operatorClient.certPem);
    await writeFile(files.key, pki.operatorClient.keyPem, { mode: 0o600 });
    await writeFile(files.ca, pki.agentCa.certPem);
    let operatorKubeconfig = '';
    const stack: Stack = {
      harness, dir, pki, swtpmCa, nodes, operators, verityRootHash: rootHash,
      kubectl: async (args, input) => {
        const r = await harness.kubectl(args, input === undefined ? undefined : { input });
        if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
        return r.stdout;
      },
      apply: (objects) => stack.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects })),
      addNode: async (name, labels = {}, addOpts = {}) => {
        // The Node object comes first so its address is allocated once; no agent answers there until started.
        const { ip } = await createSimulatedNode(harness, name, { labels, ...(addOpts.ip === undefined ? { unoccupiedOn: AGENT_PORT } : { ip: addOpts.ip }) });
        const sim = await prepareSimNode({ name, ip, baseDir: join(dir, 'nodes'), ca: swtpmCa });
        const tls = await pki.agentServerCert(ip, name);
        const logStream = createWriteStream(join(dir, `agent-${name}.log`), { flags: 'a' });
        const agentLog = createLogger({ write: (line) => logStream.write(`${line}\n`), base: { node: name } });
        const node: StackNode = {
          name, ip, sim,
          startAgent: async () => {
            // Scratch inside the stack directory, which the exit and signal handlers remove (make demo-down).
            node.agent = await startAgent({ listen: { host: ip, port: AGENT_PORT }, tcti: sim.tcti, hostRoot: sim.hostRoot, nodeName: name,
              tls: { ...tls, clientCaPem: pki.operatorCa.certPem }, logger: agentLog, scratchDir: sim.dir });
          },
          stopAgent: async () => { await node.agent?.close(); node.agent = undefined; },
          runKnownGood: async () => { for (const f of KNOWN_GOOD_FILES) await sim.appendImaFile(f.path, f.contents); },
        };
        await node.runKnownGood();
        if (addOpts.startAgent !== false) await node.startAgent();
        nodes.set(name, node);
        return node;
      },
      startOperator: async (identity = `nodeward-operator-${operators.length}`, env = {}) => {
        const op = startOperatorProcess({
          identity, logDir: dir, httpPort: await freePort(), ...(opts.operatorLauncher ? { launcher: opts.operatorLauncher } : {}),
          env: {
            KUBECONFIG: operatorKubeconfig, NODEWARD_NAMESPACE: NODEWARD_NAMESPACE, NODEWARD_REDIS_URL: harness.redisUrl,
            NODEWARD_AGENT_PORT: String(AGENT_PORT), NODEWARD_AGENT_CLIENT_CERT: files.cert, NODEWARD_AGENT_CLIENT_KEY: files.key,
            NODEWARD_AGENT_CA: files.ca, NODEWARD_RESYNC_MS: '5000', NODEWARD_LEASE_DURATION_MS: '4000', NODEWARD_LEASE_RETRY_MS: '500',
            ...opts.operatorEnv, ...env,
          },
        });
        operators.push(op);
        return op;
      },
      stop: async () => {
        await Promise.allSettled(operators.map((o) => o.kill('SIGTERM')));
        await Promise.allSettled([...nodes.values()].map(async (n) => { await n.stopAgent(); await n.sim.stop(); }));
        await harness.stop();
        if (!keep) await rm(dir, { recursive: true, force: true });
        untrackTempDir(dir);
      },
    };
    operatorKubeconfig = (await installNodeward(harness, (args, input) => stack.kubectl(args, input), { dir })).operatorKubeconfigPath;
    await stack.apply([
      configMap(TRUST_ANCHORS_CONFIGMAP, { 'roots.pem': swtpmCa.rootCertPem + swtpmCa.issuerCertPem }),
      configMap(RUNTIME_POLICY_CONFIGMAP, { 'runtime-policy.json': policyJson }),
    ]);
    return stack;
  } catch (e) {
    await Promise.allSettled([...nodes.values()].map((n) => n.sim.stop()));
    await harness.stop();
    throw e;
  }
}

/** The swtpm local CA creates its keys on first use; manufacture one throwaway TPM to get them. */
async function readSwtpmCaAfterFirstTpm(caDir: string, dir: string): Promise<SwtpmCa> {
  const ca = await createSwtpmCa(caDir);
  await mkdir(join(dir, 'first-tpm'), { recursive: true });
  await manufactureTpm(ca, join(dir, 'first-tpm'));
  return readSwtpmCa(ca);
}
