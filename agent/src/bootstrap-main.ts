#!/usr/bin/env node
// @peculiar/x509 needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EVENT_LOG_PATH } from './agent.js';
import { joinCluster } from './bootstrap/join.js';
import { ConfigError, parseNodeName } from './config.js';
import { createLogger } from './log.js';
import { AgentTpm } from './tpm/agent-tpm.js';

/** Flags and their environment variables (flags win). */
const OPTIONS = {
  'api-server': { env: 'NODEWARD_API_SERVER', default: '' },
  'ca-file': { env: 'NODEWARD_CA_FILE', default: '/etc/kubernetes/pki/ca.crt' },
  'token-file': { env: 'NODEWARD_BOOTSTRAP_TOKEN_FILE', default: '/etc/nodeward/bootstrap-token' },
  'node-name': { env: 'NODE_NAME', default: '' },
  tcti: { env: 'NODEWARD_TCTI', default: 'device:/dev/tpmrm0' },
  'ak-type': { env: 'NODEWARD_AK_TYPE', default: 'rsa' },
  'ak-handle': { env: 'NODEWARD_AK_HANDLE', default: '0x81010002' },
  'ek-handle': { env: 'NODEWARD_EK_HANDLE', default: '0x81010001' },
  'host-root': { env: 'NODEWARD_HOST_ROOT', default: '/' },
  kubeconfig: { env: 'NODEWARD_KUBELET_KUBECONFIG', default: '/var/lib/kubelet/kubeconfig' },
  'cert-dir': { env: 'NODEWARD_KUBELET_CERT_DIR', default: '/var/lib/kubelet/pki' },
  'expiration-seconds': { env: 'NODEWARD_CERT_EXPIRATION_SECONDS', default: '' },
  'timeout-seconds': { env: 'NODEWARD_JOIN_TIMEOUT_SECONDS', default: '300' },
  'log-level': { env: 'NODEWARD_LOG_LEVEL', default: 'info' },
} as const;
type Key = keyof typeof OPTIONS;

/** Flags, then environment, then defaults. Pure. */
export function parseBootstrapArgs(argv: string[], env: NodeJS.ProcessEnv): Record<Key, string> {
  const options = Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const out = {} as Record<Key, string>;
  for (const key of Object.keys(OPTIONS) as Key[]) {
    const v = values[key];
    out[key] = typeof v === 'string' ? v : env[OPTIONS[key].env] ?? OPTIONS[key].default;
  }
  if (!/^https:\/\/[^/]+$/.test(out['api-server'])) throw new ConfigError(`--api-server must be https://host:port, got '${out['api-server']}'`);
  if (!/^\d*$/.test(out['expiration-seconds']) || !/^\d+$/.test(out['timeout-seconds'])) throw new ConfigError('--expiration-seconds and --timeout-seconds are whole seconds');
  parseNodeName(out['node-name']);
  return out;
}

/**
 * `nodeward-agent-bootstrap --api-server https://… --node-name …`: runs before kubelet (config/agent/
 * nodeward-join.service). Exits 0 once kubelet's kubeconfig holds an attested identity (at once when it
 * already does: kubelet rotates its certificate itself), 1 when the join failed or was denied.
 */
async function main(): Promise<void> {
  const a = parseBootstrapArgs(process.argv.slice(2), process.env);
  const log = createLogger({ level: a['log-level'] as 'info', base: { component: 'agent-bootstrap' } });
  if (await exists(a.kubeconfig)) {
    log.info('kubelet already has a kubeconfig; nothing to do', { kubeconfig: a.kubeconfig });
    return;
  }
  const token = (await readFile(a['token-file'], 'utf8')).trim();
  if (!/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token)) throw new ConfigError(`${a['token-file']} does not hold a bootstrap token <id>.<secret>`);
  const tpm = await AgentTpm.open({
    tcti: a.tcti, akType: a['ak-type'] === 'ecc' ? 'ecc' : 'rsa', akHandle: Number(a['ak-handle']),
    ...(a['ek-handle'] === 'none' ? {} : { ekHandle: Number(a['ek-handle']) }), logger: log,
  });
  try {
    await joinCluster({
      api: { server: a['api-server'], caPem: await readFile(a['ca-file'], 'utf8'), token },
      nodeName: a['node-name'], tpm, kubeconfigPath: a.kubeconfig, certDir: a['cert-dir'],
      eventLogPath: join(a['host-root'], EVENT_LOG_PATH), timeoutMs: Number(a['timeout-seconds']) * 1000, log,
      ...(a['expiration-seconds'] === '' ? {} : { expirationSeconds: Number(a['expiration-seconds']) }),
    });
  } finally {
    await tpm.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main().catch((e: unknown) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'join failed', error: e instanceof Error ? e.message : String(e) })}\n`);
    process.exit(1);
  });
}
