import { parseRedisEndpoint, type RedisEndpoint } from './state/redis-config.js';

/** Operator settings, from the environment (NODEWARD_*), with defaults. */
export interface OperatorConfig {
  /** Namespace of the CA Secret, credential Secrets, CRL ConfigMap and the leader Lease. */
  namespace: string;
  /** Pod name, the leader-election identity. */
  identity: string;
  kubeconfig?: string;
  agentPort: number;
  defaultIntervalMs: number;
  /** A passing round on a Trusted node rewrites status only when lastAttestationTime is older. */
  heartbeatMs: number;
  credentialTtlMs: number;
  /** Re-issue a credential when it has less than this left. */
  credentialRenewBeforeMs: number;
  /** Lifetime (thisUpdate to nextUpdate) of the published CRL; the leader re-signs it at half. 0: max(credential TTL, 1 h). */
  crlLifetimeMs: number;
  resyncMs: number;
  /** Rounds this replica runs at once (BullMQ worker concurrency). */
  roundConcurrency: number;
  /** Reconciles (registrations, enforcement) run at once by the leader. */
  reconcileConcurrency: number;
  httpPort: number;
  leaseName: string;
  leaseDurationMs: number;
  leaseRetryMs: number;
  /** Redis: one server or a Sentinel group (NODEWARD_REDIS_*, state/redis-config.ts). */
  redis: RedisEndpoint;
  /** How often a replica renews its membership and re-syncs the shards it owns. */
  memberHeartbeatMs: number;
  /** A replica silent this long is no longer live and its shards move to the others (> heartbeat). */
  memberTtlMs: number;
  /**
   * Idle agent connections a follower keeps, across all its agents (one per agent up to the cap). Each
   * costs ~110 KiB of this process's memory and halves the CPU of that agent's rounds (operator and
   * agent); past the cap, rounds reconnect with TLS session resumption. Default 1,000.
   */
  agentMaxIdleConnections: number;
  /**
   * The same cap while this replica leads. Default 0: the leader's memory goes to the fleet's caches
   * (~13 KiB per node of the fleet), so its own rounds reconnect.
   */
  leaderAgentMaxIdleConnections: number;
  /** Agent mTLS: the operator's client certificate, key and the agents' CA (file paths). */
  agentTls: { certFile?: string; keyFile?: string; caFile?: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Revocation webhook URLs (Keylime-style notices on revocation and recovery); none by default. */
  revocationWebhooks: string[];
  /**
   * What the kubelet signers issue to a CSR asking for no lifetime (kube-controller-manager's
   * --cluster-signing-duration, a year by default); kubelets ask for none when they rotate.
   */
  kubeletSigningDurationS: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function num(env: Env, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

const optional = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

function webhookUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new Error(`NODEWARD_REVOCATION_WEBHOOKS: ${JSON.stringify(u)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`NODEWARD_REVOCATION_WEBHOOKS: ${u} must be http(s)`);
  return url.toString();
}

/**
 * A Trusted node's credential is checked for renewal when its enforcement is converged again: after
 * the status heartbeat at the latest, plus one resync. It must be renewed before it expires, so the
 * renewal margin must cover that gap, and the lifetime must exceed the margin (or every check would
 * issue a new one). Credentials are renewed on that check, not by a timer per node: a lifetime
 * shorter than the heartbeat is refused here instead of leaving certificates expired for minutes.
 */
function checkCredentialTimes(c: Pick<OperatorConfig, 'credentialTtlMs' | 'credentialRenewBeforeMs' | 'heartbeatMs' | 'resyncMs'>): void {
  const gap = c.heartbeatMs + c.resyncMs;
  if (c.credentialRenewBeforeMs < gap) {
    throw new Error(`NODEWARD_CREDENTIAL_RENEW_BEFORE_MS (${c.credentialRenewBeforeMs}) must be at least NODEWARD_HEARTBEAT_MS + NODEWARD_RESYNC_MS (${gap}): credentials are renewed only that often`);
  }
  if (c.credentialTtlMs <= c.credentialRenewBeforeMs) {
    throw new Error(`NODEWARD_CREDENTIAL_TTL_MS (${c.credentialTtlMs}) must be longer than NODEWARD_CREDENTIAL_RENEW_BEFORE_MS (${c.credentialRenewBeforeMs}), which must cover the status heartbeat (NODEWARD_HEARTBEAT_MS, ${c.heartbeatMs})`);
  }
}

/** A replica is live while its heartbeat is younger than the TTL: the TTL must span more than one heartbeat. */
function checkMemberTimes(c: Pick<OperatorConfig, 'memberHeartbeatMs' | 'memberTtlMs'>): void {
  if (!(c.memberHeartbeatMs > 0 && c.memberTtlMs > c.memberHeartbeatMs)) {
    throw new Error(`NODEWARD_MEMBER_TTL_MS (${c.memberTtlMs}) must be longer than NODEWARD_MEMBER_HEARTBEAT_MS (${c.memberHeartbeatMs}), which must be positive`);
  }
}

export function loadConfig(env: Env = process.env): OperatorConfig {
  const level = env['NODEWARD_LOG_LEVEL'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`NODEWARD_LOG_LEVEL must be debug|info|warn|error, got ${level}`);
  const kubeconfig = optional(env['KUBECONFIG']);
  const cfg: OperatorConfig = {
    namespace: env['NODEWARD_NAMESPACE'] ?? env['POD_NAMESPACE'] ?? 'nodeward-system',
    identity: env['POD_NAME'] ?? env['HOSTNAME'] ?? `nodeward-${process.pid}`,
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    agentPort: num(env, 'NODEWARD_AGENT_PORT', 9443),
    defaultIntervalMs: num(env, 'NODEWARD_DEFAULT_INTERVAL_MS', 30_000),
    heartbeatMs: num(env, 'NODEWARD_HEARTBEAT_MS', 300_000),
    credentialTtlMs: num(env, 'NODEWARD_CREDENTIAL_TTL_MS', 3_600_000),
    kubeletSigningDurationS: num(env, 'NODEWARD_KUBELET_SIGNING_DURATION_S', 31_536_000),
    credentialRenewBeforeMs: num(env, 'NODEWARD_CREDENTIAL_RENEW_BEFORE_MS', 1_200_000),
    crlLifetimeMs: num(env, 'NODEWARD_CRL_LIFETIME_MS', 0),
    resyncMs: num(env, 'NODEWARD_RESYNC_MS', 60_000),
    roundConcurrency: num(env, 'NODEWARD_ROUND_CONCURRENCY', 64),
    reconcileConcurrency: num(env, 'NODEWARD_RECONCILE_CONCURRENCY', 16),
    httpPort: num(env, 'NODEWARD_HTTP_PORT', 8080),
    leaseName: env['NODEWARD_LEASE_NAME'] ?? 'nodeward-operator',
    leaseDurationMs: num(env, 'NODEWARD_LEASE_DURATION_MS', 15_000),
    leaseRetryMs: num(env, 'NODEWARD_LEASE_RETRY_MS', 2_000),
    redis: parseRedisEndpoint(env),
    memberHeartbeatMs: num(env, 'NODEWARD_MEMBER_HEARTBEAT_MS', 2000),
    memberTtlMs: num(env, 'NODEWARD_MEMBER_TTL_MS', 6000),
    agentMaxIdleConnections: num(env, 'NODEWARD_AGENT_MAX_IDLE_CONNECTIONS', 1000),
    leaderAgentMaxIdleConnections: num(env, 'NODEWARD_LEADER_AGENT_MAX_IDLE_CONNECTIONS', 0),
    agentTls: { certFile: optional(env['NODEWARD_AGENT_CLIENT_CERT']), keyFile: optional(env['NODEWARD_AGENT_CLIENT_KEY']), caFile: optional(env['NODEWARD_AGENT_CA']) },
    logLevel: level as OperatorConfig['logLevel'],
    revocationWebhooks: (env['NODEWARD_REVOCATION_WEBHOOKS'] ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '').map(webhookUrl),
  };
  checkCredentialTimes(cfg);
  checkMemberTimes(cfg);
  return cfg;
}
