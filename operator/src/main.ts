import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { HttpsAgentClient } from './agent-client/index.js';
import { CredentialAuthority, crlRefreshPeriodMs } from './ca/credential-authority.js';
import { loadConfig, type OperatorConfig } from './config.js';
import type { EnforcementAction } from './decide/actions.js';
import { Enforcer, type EnforceTarget } from './enforce/enforcer.js';
import { KubeletQuarantine, QUARANTINE_CONFIGMAP, quarantineReason } from './enforce/kubelet-quarantine.js';
import { startHttpServer } from './http-server.js';
import { makeInformers, type ChangeKind, type Informers } from './kube/informers.js';
import { KubeCluster } from './kube/kube-cluster.js';
import { loadKubeConfig } from './kube/kube-config.js';
import { LeaderElector } from './kube/leader-election.js';
import { createLogger, type Logger } from './log.js';
import { metrics, recordApiWrite, registry, setNodesByPhase } from './metrics.js';
import { BullRoundScheduler, RoundWorker } from './queue/index.js';
import { ConvergenceMemo } from './reconcile/convergence-memo.js';
import { makeNodeReconciler, planInputs, policyKey } from './reconcile/node-reconciler.js';
import { agentUrlFor, internalIpOf, scheduledTargets } from './reconcile/planner.js';
import { IdentityClaims } from './registration/identity-claims.js';
import { logRuntimePolicyWarnings, makeRoundContextProvider, makeRuntimePolicyLoader } from './reconcile/round-context.js';
import { WorkQueue } from './reconcile/work-queue.js';
import { createRoundMetrics, runRound } from './round/index.js';
import { RevocationNotifier } from './notify/index.js';
import { createRedisClient, rateLimitedLog, redisNotReady, RedisNodeStateStore } from './state/index.js';
import { makeRoundOutcomeHandler } from './status/outcome-handler.js';
import type { NodeAttestation } from './status/resources.js';

/** Every key the leader should look at: each node (or attested node) and each policy. */
function allKeys(inf: Informers): string[] {
  const nodes = new Set([...inf.nodes().map((n) => n.metadata.name), ...inf.nodeAttestations().map((a) => a.spec.nodeName)]);
  return [...nodes, ...inf.policies().map((p) => policyKey(p.metadata.name))];
}

function redisConnection(url: string): { host: string; port: number; password?: string; maxRetriesPerRequest: null } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), ...(u.password ? { password: decodeURIComponent(u.password) } : {}), maxRetriesPerRequest: null };
}

function agentClient(cfg: OperatorConfig): HttpsAgentClient {
  const { certFile, keyFile, caFile } = cfg.agentTls;
  if (certFile === undefined || keyFile === undefined || caFile === undefined) {
    throw new Error('NODEWARD_AGENT_CLIENT_CERT, NODEWARD_AGENT_CLIENT_KEY and NODEWARD_AGENT_CA are required (agent mTLS)');
  }
  return new HttpsAgentClient({ cert: readFileSync(certFile), key: readFileSync(keyFile), ca: readFileSync(caFile), maxIdleConnections: cfg.agentMaxIdleConnections });
}

export async function main(cfg: OperatorConfig = loadConfig(), log: Logger = createLogger({ component: 'nodeward-operator' }, { level: cfg.logLevel })): Promise<() => Promise<void>> {
  const kc = loadKubeConfig(cfg.kubeconfig);
  const cluster = new KubeCluster(kc, 'default', recordApiWrite);
  const roundMetrics = createRoundMetrics(registry);
  const agent = agentClient(cfg);
  const ca = new CredentialAuthority(cluster, { namespace: cfg.namespace, ttlMs: cfg.credentialTtlMs, ...(cfg.crlLifetimeMs > 0 ? { crlLifetimeMs: cfg.crlLifetimeMs } : {}) });
  await ca.start();
  const quarantine = new KubeletQuarantine(cluster, { namespace: cfg.namespace, cached: () => informers.configMap(cfg.namespace, QUARANTINE_CONFIGMAP) });
  const enforcer = new Enforcer(cluster, ca, agent, log, { renewBeforeMs: cfg.credentialRenewBeforeMs, quarantine });
  const notifier = cfg.revocationWebhooks.length === 0 ? undefined
    : new RevocationNotifier({ urls: cfg.revocationWebhooks, metrics: roundMetrics, log });

  const informers = makeInformers(kc, (kind: ChangeKind, obj) => onChange(kind, obj), { onError: (kind, e) => log.warn('watch failed; restarting', { kind, error: e }) });
  cluster.useNodeCache((name) => informers.node(name));
  const elector = new LeaderElector(kc, {
    namespace: cfg.namespace, name: cfg.leaseName, identity: cfg.identity, leaseDurationMs: cfg.leaseDurationMs, retryPeriodMs: cfg.leaseRetryMs,
    onStartedLeading: () => {
      metrics.leader.set(1);
      log.info('leading');
      for (const k of allKeys(informers)) queue.add(k);
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      log.warn('no longer leading');
    },
    onError: (e) => log.warn('leader election failed', { error: e }),
  });
  // Enforcement found converged is re-checked on a change to the node or its NodeAttestation, or after the heartbeat.
  const converged = new ConvergenceMemo(cfg.heartbeatMs);
  const onChange = (kind: ChangeKind, obj: { name: string; namespace?: string; nodeName?: string }): void => {
    if (kind === 'node') converged.forget(obj.name);
    else if (kind === 'nodeattestation') converged.forget(obj.nodeName ?? obj.name);
    if (!elector.isLeader()) return;
    if (kind === 'node') queue.add(obj.name);
    else if (kind === 'nodeattestation') queue.add(obj.nodeName ?? obj.name);
    else if (kind === 'configmap' && obj.name === QUARANTINE_CONFIGMAP && obj.namespace === cfg.namespace) return; // our own list
    else for (const k of allKeys(informers)) queue.add(k); // policy or ConfigMap: every node may be affected
  };

  const connection = redisConnection(cfg.redisUrl);
  // Every Redis client's errors are logged (structured, once per 30 s per message while Redis is down).
  const redisLog = rateLimitedLog(log, 30_000);
  // The scheduler's info lines (a schedule per node) are debug detail for the operator's log.
  const scheduler = new BullRoundScheduler({ connection, log: { info: (m, f) => log.debug(m, f), warn: (m, f) => redisLog.warn(m, f) }, onReconnect: () => { if (elector.isLeader()) for (const k of allKeys(informers)) queue.add(k); } });
  const redis = createRedisClient(cfg.redisUrl, redisLog);
  const store = new RedisNodeStateStore({ redis, log });

  const enforceTarget = (na: NodeAttestation): EnforceTarget => {
    const node = informers.node(na.spec.nodeName);
    return {
      nodeName: na.spec.nodeName, attestationName: na.metadata.name, akName: na.status?.identity?.akName,
      // Credentials go only to the agent proven to serve the node: at the address its identity was proven at.
      agentUrl: node === undefined || internalIpOf(node) !== na.status?.identity?.agentAddress ? undefined : agentUrlFor(node, cfg.agentPort),
      failure: quarantineReason(na.status),
    };
  };
  const enforce = async (na: NodeAttestation, actions: EnforcementAction[]): Promise<void> => {
    const target = enforceTarget(na);
    const changed = await converged.run(na.spec.nodeName, { target, actions }, () => enforcer.converge(target, actions),
      () => enforcer.isSettled(na.spec.nodeName)) ?? [];
    // Only actions that changed something are announced, so a re-convergence after a crash does not repeat a notice.
    const type = changed.some((a) => a.kind === 'revoke-credentials') ? 'revocation'
      : changed.some((a) => a.kind === 'taint' && a.op === 'lift') ? 'recovery' : undefined;
    if (type !== undefined) {
      const reason = na.status?.lastFailure?.reason;
      notifier?.notify({ type, node: na.spec.nodeName, policy: na.spec.policyName, reasons: type === 'revocation' && reason ? [reason] : [], time: new Date().toISOString() });
    }
  };
  const planOptions = { agentPort: cfg.agentPort, defaultIntervalMs: cfg.defaultIntervalMs };
  // Reconciles, round contexts and round outcomes see this replica's own status writes before the
  // informer shows them: a node's first round is enqueued once its registration (status.identity, the
  // AK) is written and can run before the informer has that write; without the AK it would be skipped
  // and the node would wait one interval for its next tick.
  const latestAttestation = (nodeName: string): NodeAttestation | undefined => cluster.latestNodeAttestation(informers.nodeAttestation(nodeName));
  const caches = { ...informers, nodeAttestation: latestAttestation };
  // One runtime-policy loader for reconciles and rounds: each policy version is compiled once.
  const loadRuntimePolicy = makeRuntimePolicyLoader(caches, undefined, (id, p) => logRuntimePolicyWarnings(log, id, p));
  const reconcile = makeNodeReconciler({ cluster, caches, loadRuntimePolicy, scheduler, registration: { agent }, claims: new IdentityClaims(cluster, cfg.namespace), enforce, plan: planOptions, heartbeatMs: cfg.heartbeatMs, log });
  const queue: WorkQueue = new WorkQueue(async (key) => (elector.isLeader() ? reconcile(key) : undefined), {
    concurrency: cfg.reconcileConcurrency,
    onError: (item, e, attempt) => {
      metrics.reconcileErrors.inc({ kind: item.startsWith('policy/') ? 'policy' : 'node' });
      // `item`, not `key`: the redactor hides fields named key.
      log.warn('reconcile failed; retrying', { item, attempt, error: e });
    },
  });

  const context = makeRoundContextProvider(caches, { ...planOptions, loadRuntimePolicy, log });
  const onOutcome = makeRoundOutcomeHandler({
    cluster, log, heartbeatMs: cfg.heartbeatMs, isLeader: () => elector.isLeader(), enforce,
    nodeAttestation: latestAttestation,
    policy: (n) => informers.policies().find((p) => p.metadata.name === n),
  });
  const worker = new RoundWorker({ connection, runRound: (n) => runRound(n, { context, agent, store, metrics: roundMetrics }), onOutcome, metrics: roundMetrics, concurrency: cfg.roundConcurrency, log: redisLog });

  const http = await startHttpServer(cfg.httpPort, {
    notReady: () => (informers.synced() ? redisNotReady(redis) : 'informers not synced'), crl: () => ca.crlPem(),
  });
  await informers.start();
  elector.start();

  let schedulesResyncing = false;
  const resync = setInterval(() => {
    const counts: Record<string, number> = {};
    for (const a of informers.nodeAttestations()) counts[a.status?.phase ?? 'Pending'] = (counts[a.status?.phase ?? 'Pending'] ?? 0) + 1;
    setNodesByPhase(counts);
    if (!elector.isLeader()) return;
    for (const k of allKeys(informers)) queue.add(k);
    // The schedules made to match the CRs: stale ones (a node removed while another replica led) go, and a
    // shard scheduler that two overlapping leaders' changes removed under live members comes back.
    if (schedulesResyncing) return;
    schedulesResyncing = true;
    scheduler.reconcileSchedules(() => scheduledTargets(planInputs(informers), planOptions))
      .then((r) => { if (r.removed.length > 0) log.info('stale round schedules removed', { count: r.removed.length }); })
      .catch((e: unknown) => log.warn('round schedule resync failed', { error: e }))
      .finally(() => { schedulesResyncing = false; });
  }, cfg.resyncMs);
  // The leader re-signs the CRL at half its lifetime, so it never passes nextUpdate without revocations;
  // the other replicas re-read what it published, for their GET /crl.
  const crlRefresh = setInterval(() => {
    (elector.isLeader() ? ca.refreshCrl() : ca.reloadCrl()).catch((e: unknown) => log.warn('CRL refresh failed', { error: e }));
  }, crlRefreshPeriodMs(ca.crlLifetimeMs));
  log.info('started', { identity: cfg.identity, namespace: cfg.namespace, httpPort: http.port });

  return async (): Promise<void> => {
    clearInterval(resync);
    clearInterval(crlRefresh);
    queue.stop();
    await elector.stop();
    await worker.close();
    notifier?.close();
    await scheduler.close();
    redis.disconnect();
    await informers.stop();
    await http.close();
  };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const log = createLogger({ component: 'nodeward-operator' });
  main().then((stop) => {
    const shutdown = (signal: string): void => {
      log.info('shutting down', { signal });
      stop().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  }, (e: unknown) => {
    log.error('failed to start', { error: e });
    process.exit(1);
  });
}
