import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { AgentConfig } from './agent.js';
import type { LogLevel } from './log.js';

/** Flags and their environment variables (flags win). */
const OPTIONS = {
  listen: { type: 'string', env: 'NODEWARD_LISTEN', default: '0.0.0.0:9443' },
  tcti: { type: 'string', env: 'NODEWARD_TCTI', default: 'device:/dev/tpmrm0' },
  'host-root': { type: 'string', env: 'NODEWARD_HOST_ROOT', default: '/' },
  'tls-cert': { type: 'string', env: 'NODEWARD_TLS_CERT', default: '/etc/nodeward/tls/tls.crt' },
  'tls-key': { type: 'string', env: 'NODEWARD_TLS_KEY', default: '/etc/nodeward/tls/tls.key' },
  'client-ca': { type: 'string', env: 'NODEWARD_CLIENT_CA', default: '/etc/nodeward/tls/client-ca.crt' },
  'credential-dir': { type: 'string', env: 'NODEWARD_CREDENTIAL_DIR', default: 'var/lib/nodeward/credential' },
  'ak-type': { type: 'string', env: 'NODEWARD_AK_TYPE', default: 'rsa' },
  'ak-handle': { type: 'string', env: 'NODEWARD_AK_HANDLE', default: '0x81010002' },
  /** Where the EK is (or gets) persisted, TCG's 0x81010001; `none` re-creates the EK for every activation. */
  'ek-handle': { type: 'string', env: 'NODEWARD_EK_HANDLE', default: '0x81010001' },
  'operator-identity': { type: 'string', env: 'NODEWARD_OPERATOR_IDENTITY', default: 'nodeward-operator' },
  /** The node this agent serves: the Node's name (downward API spec.nodeName). Required. */
  'node-name': { type: 'string', env: 'NODE_NAME', default: '' },
  'verity-source': { type: 'string', env: 'NODEWARD_VERITY_SOURCE', default: 'dmsetup' },
  'log-level': { type: 'string', env: 'NODEWARD_LOG_LEVEL', default: 'info' },
  /** Seconds an idle operator connection stays open; keep it above the longest policy interval. */
  'keep-alive-timeout': { type: 'string', env: 'NODEWARD_KEEP_ALIVE_TIMEOUT', default: '75' },
} as const;

type Key = keyof typeof OPTIONS;
export type AgentArgs = Record<Key, string>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Flags, then environment, then defaults. Pure: no file is read. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv): AgentArgs {
  const options = Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const out = {} as AgentArgs;
  for (const key of Object.keys(OPTIONS) as Key[]) {
    const v = values[key];
    out[key] = typeof v === 'string' ? v : env[OPTIONS[key].env] ?? OPTIONS[key].default;
  }
  return out;
}

export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new ConfigError(`--listen must be host:port, got ${s}`);
  return { host: m[1]!, port };
}

function parseHandle(s: string, flag = 'ak-handle'): number {
  const n = Number(s);
  if (!/^0x81[0-9a-fA-F]{6}$/.test(s) || !Number.isInteger(n)) throw new ConfigError(`--${flag} must be a persistent handle 0x81xxxxxx, got ${s}`);
  return n;
}

/** A Node name (a DNS subdomain, RFC 1123): the agent must know which node it serves. */
export function parseNodeName(s: string): string {
  if (s.length === 0) throw new ConfigError('--node-name (or NODE_NAME, from the downward API spec.nodeName) is required');
  if (s.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s)) throw new ConfigError(`--node-name must be a Node name (DNS subdomain), got ${s}`);
  return s;
}

/** Whole seconds in [1, 3600] (a policy interval is at most 1 h), as ms. */
export function parseKeepAliveTimeout(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 3600) throw new ConfigError(`--keep-alive-timeout must be whole seconds from 1 to 3600, got ${s}`);
  return n * 1000;
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === v);
  if (!found) throw new ConfigError(`--${flag} must be one of ${allowed.join(', ')}, got ${v}`);
  return found;
}

/** Everything but the logger, with TLS material read from the given files. */
export async function loadAgentConfig(args: AgentArgs): Promise<AgentConfig & { logLevel: LogLevel }> {
  const verity = oneOf('verity-source', args['verity-source'], ['dmsetup', 'files'] as const);
  const hostRoot = args['host-root'];
  const listen = parseListen(args.listen);
  const akType = oneOf('ak-type', args['ak-type'], ['rsa', 'ecc'] as const);
  const akHandle = parseHandle(args['ak-handle']);
  const ekHandle = args['ek-handle'] === 'none' ? null : parseHandle(args['ek-handle'], 'ek-handle');
  if (ekHandle === akHandle) throw new ConfigError('--ek-handle and --ak-handle must differ');
  const logLevel = oneOf('log-level', args['log-level'], ['debug', 'info', 'warn', 'error'] as const);
  const keepAliveTimeoutMs = parseKeepAliveTimeout(args['keep-alive-timeout']);
  const nodeName = parseNodeName(args['node-name']);
  return {
    listen,
    tcti: args.tcti,
    hostRoot,
    tls: {
      certPem: await readFile(args['tls-cert'], 'utf8'),
      keyPem: await readFile(args['tls-key'], 'utf8'),
      clientCaPem: await readFile(args['client-ca'], 'utf8'),
    },
    operatorIdentity: args['operator-identity'],
    nodeName,
    credentialDir: args['credential-dir'],
    akType,
    akHandle,
    ekHandle,
    ...(verity === 'dmsetup' ? { verity: { kind: 'dmsetup' as const } } : {}),
    keepAliveTimeoutMs,
    logLevel,
  };
}
