import { isAbsolute, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IdentityResponse } from '@nodeward/attest';
import { createLogger, type Logger } from './log.js';
import { AgentTpm, type AkType } from './tpm/agent-tpm.js';
import { ImaLogIndex } from './evidence/ima-log-index.js';
import { fixtureVeritySource, type VeritySourceConfig } from './evidence/verity-source.js';
import { createAgentServer } from './server/agent-server.js';
import { AgentMetrics } from './server/metrics.js';

export interface AgentConfig {
  /** Address to listen on; port 0 picks a free port (see the returned url). */
  listen: { host: string; port: number };
  /** TPM2TOOLS_TCTI: `device:/dev/tpmrm0` on a node, `swtpm:host=…,port=…` in tests. */
  tcti: string;
  /** Root of the node's filesystem as the agent sees it (`/` on a node, `/host` in a container, a fixture tree in tests). */
  hostRoot: string;
  /** PEM: the agent's serving certificate and key, and the CA that issues the operator's client certificate. */
  tls: { certPem: string; keyPem: string; clientCaPem: string };
  /**
   * The node this agent serves (`--node-name`, `NODE_NAME` from the downward API). Requests the
   * operator makes for another node are refused (421) and a credential for another node is not stored.
   */
  nodeName?: string;
  /** Subject CN or SAN the client certificate must carry. Default `nodeward-operator`. */
  operatorIdentity?: string;
  /** Where PUT /v1/credential writes, relative to hostRoot. Default `var/lib/nodeward/credential`. */
  credentialDir?: string;
  /** Default `rsa` (RSA-2048 rsassa sha256); `ecc` is P-256 ecdsa sha256. */
  akType?: AkType;
  /** Default 0x81010002. */
  akHandle?: number;
  /** Persistent EK handle (found or made at start, used by activation). Default 0x81010001; null: re-create the EK each time. */
  ekHandle?: number | null;
  /** Default: the fixture files under `<hostRoot>/run/nodeward/`; `{ kind: 'dmsetup' }` on a real node. */
  verity?: VeritySourceConfig;
  /** Default 64 KiB. */
  maxBodyBytes?: number;
  /**
   * Idle keep-alive connections are closed after this. Default 75 s: longer than usual round
   * intervals, so each round reuses the operator's open connection (no TLS handshake per round).
   */
  keepAliveTimeoutMs?: number;
  /** Parent of the private scratch directory for tpm2-tools files. Default the OS temp dir. */
  scratchDir?: string;
  logger?: Logger;
}

export interface RunningAgent {
  /** `https://host:port`. */
  url: string;
  identity: IdentityResponse;
  close(): Promise<void>;
}

export const IMA_LOG_PATH = 'sys/kernel/security/ima/binary_runtime_measurements';
export const EVENT_LOG_PATH = 'sys/kernel/security/tpm0/binary_bios_measurements';
export const DEFAULT_CREDENTIAL_DIR = 'var/lib/nodeward/credential';
export const DEFAULT_AK_HANDLE = 0x81010002;
export const DEFAULT_EK_HANDLE = 0x81010001;
export const DEFAULT_OPERATOR_IDENTITY = 'nodeward-operator';
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 75_000;

/** A path under the host root (absolute paths are taken as relative to it too). */
export function underHostRoot(hostRoot: string, p: string): string {
  return join(hostRoot, isAbsolute(p) ? p.slice(1) : p);
}

function connectionLimits(config: AgentConfig): { maxBodyBytes: number; keepAliveTimeoutMs: number } {
  return { maxBodyBytes: config.maxBodyBytes ?? 64 << 10, keepAliveTimeoutMs: config.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS };
}

/** Opens the TPM (EK, persistent AK), then serves the mTLS API. */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const log = config.logger ?? createLogger({ base: { component: 'agent' } });
  const tpm = await AgentTpm.open({
    tcti: config.tcti, akType: config.akType ?? 'rsa', akHandle: config.akHandle ?? DEFAULT_AK_HANDLE,
    ...(config.ekHandle === null ? {} : { ekHandle: config.ekHandle ?? DEFAULT_EK_HANDLE }),
    scratchParent: config.scratchDir, logger: log,
  });
  const server = createAgentServer({
    tpm,
    ima: new ImaLogIndex(underHostRoot(config.hostRoot, IMA_LOG_PATH)),
    eventLogPath: underHostRoot(config.hostRoot, EVENT_LOG_PATH),
    verity: config.verity ?? fixtureVeritySource(config.hostRoot),
    credentialDir: underHostRoot(config.hostRoot, config.credentialDir ?? DEFAULT_CREDENTIAL_DIR),
    operatorIdentity: config.operatorIdentity ?? DEFAULT_OPERATOR_IDENTITY,
    ...(config.nodeName === undefined ? {} : { nodeName: config.nodeName }),
    ...connectionLimits(config),
    tls: config.tls,
    log,
    metrics: new AgentMetrics(),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    await tpm.close();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  log.info('agent listening', { address: `${host}:${addr.port}`, akName: tpm.identity.akName });
  return {
    url: `https://${host}:${addr.port}`,
    identity: tpm.identity,
    close: async () => {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await tpm.close();
      log.info('agent stopped');
    },
  };
}
