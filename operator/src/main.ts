import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentClientFromFiles } from './agent-client/index.js';
import { CredentialAuthority, crlRefreshPeriodMs } from './ca/credential-authority.js';
import { loadConfig, type OperatorConfig } from './config.js';
import { Enforcer } from './enforce/enforcer.js';
import type { Admission } from './decide/budget.js';
import { EnforcementBudget } from './enforce/enforcement-budget.js';
import { KubeletQuarantine, QUARANTINE_CONFIGMAP } from './enforce/kubelet-quarantine.js';
import { makeNodeEnforcement } from './enforce/node-enforcement.js';
import { startHttpServer } from './http-server.js';
import { makeInformers, type ChangeKind } from './kube/informers.js';
import { KubeCluster } from './kube/kube-cluster.js';
import { KubeKubeletIdentityApi } from './kube/kubelet-identity-kube.js';
import { joinLookups } from './kubelet-identity/join-lookups.js';
import { KubeletIdentityController } from './kubelet-identity/kubelet-identity-controller.js';
import { announceKubeletCsrDecision, makeKubeletCsrHandlers } from './kubelet-identity/kubelet-csr-handlers.js';
import { loadKubeConfig } from './kube/kube-config.js';
import { LeaderElector } from './kube/leader-election.js';
import { createLogger, type Logger } from './log.js';
import { Manager, runnable, ticker, withStop } from './manager/manager.js';
import { clearFleetGauges, metrics, recordApiWrite, registry, setEnforcementHeld, setNodesByPhase, setPolicyReferencesInvalid } from './metrics.js';
import { RevocationNotifier } from './notify/index.js';
import { BullRoundScheduler, RoundWorker, ShardOwnership } from './queue/index.js';
import { ConvergenceMemo } from './reconcile/convergence-memo.js';
import { NodeController } from './reconcile/node-controller.js';
import { invalidReferences } from './reconcile/policy-conditions.js';
import { makeNodeReconciler, planInputs } from './reconcile/node-reconciler.js';
import { scheduledTargets } from './reconcile/planner.js';
import { logRuntimePolicyWarnings, makeRoundContextProvider, makeRuntimePolicyLoader } from './reconcile/round-context.js';
import { IdentityClaims } from './registration/identity-claims.js';
import { createRoundMetrics, runRound } from './round/index.js';
import { createRedisClient, describeRedisEndpoint, rateLimitedLog, redisConnection, redisNotReady, RedisNodeStateStore } from './state/index.js';
import { makeRoundOutcomeHandler } from './status/outcome-handler.js';
import { heldCounts, phaseCounts } from './status/phase-counts.js';
import type { NodeAttestationPolicy } from './status/resources.js';

/**
 * Builds the operator's components and registers them with the manager, which starts them and runs
 * the leader-only ones (the controller, the resync, the CRL signer, enforcement) only while leading.
 * Resolves a function that stops everything.
 */
export async function main(cfg: OperatorConfig = loadConfig(), log: Logger = createLogger({ component: 'nodeward-operator' }, { level: cfg.logLevel })): Promise<() => Promise<void>> {
  const kc = loadKubeConfig(cfg.kubeconfig);
  const cluster = new KubeCluster(kc, 'default', recordApiWrite);
  const roundMetrics = createRoundMetrics(registry);
  const agent = agentClientFromFiles(cfg.agentTls, cfg.agentMaxIdleConnections);
  const ca = new CredentialAuthority(cluster, { namespace: cfg.namespace, ttlMs: cfg.credentialTtlMs, ...(cfg.crlLifetimeMs > 0 ? { crlLifetimeMs: cfg.crlLifetimeMs } : {}) });
  await ca.start();
  const notifier = cfg.revocationWebhooks.length === 0 ? undefined : new RevocationNotifier({ urls: cfg.revocationWebhooks, metrics: roundMetrics, log });
  const manager = new Manager({
    log, onLeadership: (leading) => {
      metrics.leader.set(leading ? 1 : 0);
      agent.setIdleCap(leading ? cfg.leaderAgentMaxIdleConnections : cfg.agentMaxIdleConnections);
      log.info(leading ? 'leading' : 'no longer leading');
    },
    elector: (hooks) => new LeaderElector(kc, { namespace: cfg.namespace, name: cfg.leaseName, identity: cfg.identity, leaseDurationMs: cfg.leaseDurationMs, retryPeriodMs: cfg.leaseRetryMs, ...hooks, onError: (e) => log.warn('leader election failed', { error: e }) }),
  });

  // Enforcement found converged is re-checked on a change to the node or its NodeAttestation, or after the heartbeat.
  const converged = new ConvergenceMemo(cfg.heartbeatMs);
  const informers = makeInformers(kc, (kind: ChangeKind, obj) => {
    converged.forget(kind === 'nodeattestation' ? obj.nodeName ?? obj.name : obj.name);
    // The quarantine list is ours: its changes concern no policy or node.
    if (kind === 'configmap' && obj.name === QUARANTINE_CONFIGMAP && obj.namespace === cfg.namespace) return;
    controller.changed(kind, obj);
  }, { onError: (kind, e) => log.warn('watch failed; restarting', { kind, error: e }), scope: { kind: 'shards', shards: new Set() } });
  // What the caches hold: the fleet while leading (planning, schedules, enforcement, the budget), else
  // only the NodeAttestations of the shards this replica owns (its rounds), so a follower's memory
  // grows with its share. Both inputs are read when applied, so the last change wins.
  let fleetView = false;
  let ownedShards: ReadonlySet<string> = new Set();
  const rescope = (): Promise<void> => informers.scopeTo(fleetView ? { kind: 'fleet' } : { kind: 'shards', shards: ownedShards });
  const fleetReady = (): boolean => informers.scope().kind === 'fleet' && informers.synced();
  cluster.useNodeCache((name) => informers.node(name));
  const quarantine = new KubeletQuarantine(cluster, { namespace: cfg.namespace, cached: () => informers.configMap(cfg.namespace, QUARANTINE_CONFIGMAP) });
  // Until the fleet is cached a new leader leaves enforcement to its controller's first pass over every node.
  const enforceNode = manager.whileLeading(makeNodeEnforcement({
    enforcer: new Enforcer(cluster, ca, agent, log, { renewBeforeMs: cfg.credentialRenewBeforeMs, quarantine }), converged, node: (n) => informers.node(n), agentPort: cfg.agentPort,
    ...(notifier === undefined ? {} : { notify: (n) => notifier.notify(n) }),
  }));
  const enforce: typeof enforceNode = async (na, actions) => (fleetReady() ? enforceNode(na, actions) : undefined);

  const connection = redisConnection(cfg.redis);
  // Every Redis client's errors are logged (structured, once per 30 s per message while Redis is down).
  const redisLog = rateLimitedLog(log, 30_000);
  // The scheduler's info lines (a schedule per node) are debug detail for the operator's log.
  const queueLog = { info: (m: string, f?: Record<string, string | number | boolean | undefined>) => log.debug(m, f), warn: (m: string, f?: Record<string, string | number | boolean | undefined>) => redisLog.warn(m, f) };
  // This replica's share of the shards: its own queue of their ticks, synced every heartbeat.
  const ownership = new ShardOwnership({
    connection, identity: cfg.identity, heartbeatMs: cfg.memberHeartbeatMs, ttlMs: cfg.memberTtlMs, log: queueLog,
    onSync: (o) => { metrics.ownedNodes.set(o.nodes); metrics.ownedShards.set(o.shards); metrics.liveReplicas.set(o.replicas); },
    onOwned: (shards) => { ownedShards = shards; return rescope(); },
  });
  const scheduler = new BullRoundScheduler({ connection, log: queueLog, ownerQueue: (s) => ownership.ownerQueue(s), onReconnect: () => controller.enqueueAll() });
  const redis = createRedisClient(connection, redisLog);
  const store = new RedisNodeStateStore({ redis, log });

  // Only the leader spends a policy's maxUnavailable budget; a follower's round defers to it (decide/budget.ts).
  const budget = new EnforcementBudget(() => informers.nodeAttestations());
  const deferBudgeted = (p: NodeAttestationPolicy): Admission => (p.spec.maxUnavailable === undefined ? { verdict: 'admit' } : { verdict: 'defer' });
  // The budget counts the fleet: a leader whose fleet cache is not listed yet defers, as a follower does.
  const admission = manager.byLeadership((p: NodeAttestationPolicy, n: string) => (fleetReady() ? budget.admit(p, n) : deferBudgeted(p)), deferBudgeted);
  const planOptions = { agentPort: cfg.agentPort, defaultIntervalMs: cfg.defaultIntervalMs };
  // Reconciles, round contexts and round outcomes see this replica's own status writes before the
  // informer shows them (a node's first round can run before the informer has its registration).
  const caches = { ...informers, nodeAttestation: (n: string) => cluster.latestNodeAttestation(informers.nodeAttestation(n)) };
  // One runtime-policy loader for reconciles and rounds: each policy version is compiled once.
  const loadRuntimePolicy = makeRuntimePolicyLoader(caches, undefined, (id, p) => logRuntimePolicyWarnings(log, id, p));
  const claims = new IdentityClaims(cluster, cfg.namespace);
  // Attested join and the kubelet CSRs after it: NodeJoinRequests challenged, kubelet CSRs decided (leader only).
  const kubeletIdentity = new KubeletIdentityController({
    api: new KubeKubeletIdentityApi(kc, (what, e) => log.warn('watch failed; restarting', { kind: what, error: e })),
    lookups: joinLookups(informers, cluster, claims), claims, log: log.child({ component: 'kubelet-identity' }),
    // A new leader decides CSRs once the fleet is listed (a renewal must find its NodeAttestation); its resync takes up what waited.
    isLeader: () => manager.isLeader() && fleetReady(),
    renewals: makeKubeletCsrHandlers({
      nodeAttestation: caches.nodeAttestation, policy: (n) => informers.policies().find((p) => p.metadata.name === n), node: (n) => informers.node(n),
      heartbeatMs: cfg.heartbeatMs, defaultIntervalMs: cfg.defaultIntervalMs, signerDurationSeconds: cfg.kubeletSigningDurationS,
    }),
    onDecided: (csr, decision) => announceKubeletCsrDecision(cluster, csr, decision),
  });
  const controller: NodeController = new NodeController({
    caches, concurrency: cfg.reconcileConcurrency, log,
    reconcile: makeNodeReconciler({ cluster, caches, loadRuntimePolicy, scheduler, registration: { agent }, claims, enforce, admission, plan: planOptions, heartbeatMs: cfg.heartbeatMs, log }),
    reconcileSchedules: () => scheduler.reconcileSchedules(() => scheduledTargets(planInputs(informers), planOptions)),
    onError: (item, e, attempt) => {
      metrics.reconcileErrors.inc({ kind: item.startsWith('policy/') ? 'policy' : 'node' });
      log.warn('reconcile failed; retrying', { item, attempt, error: e }); // `item`, not `key`: the redactor hides fields named key
    },
  });
  const onOutcome = makeRoundOutcomeHandler({
    admission,
    cluster, log, heartbeatMs: cfg.heartbeatMs, enforce, nodeAttestation: caches.nodeAttestation,
    policy: (n) => informers.policies().find((p) => p.metadata.name === n),
  });
  const context = makeRoundContextProvider(caches, { ...planOptions, loadRuntimePolicy, log });

  let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  let worker: RoundWorker | undefined;
  manager.add(
    runnable('http', false, async () => { http = await startHttpServer(cfg.httpPort, { notReady: () => redisNotReady(redis) ?? (informers.synced() ? undefined : 'informers not synced'), crl: () => ca.crlPem() }); }, () => http?.close()),
    runnable('informers', false, () => informers.start(), () => informers.stop()),
    runnable('redis', false, () => undefined, async () => { notifier?.close(); await scheduler.close(); redis.disconnect(); }),
    // Stopped after the worker (reverse order): leaves the live set, so the others take its shards at once.
    runnable('shard-ownership', false, () => ownership.start(), () => ownership.stop()),
    runnable('round-worker', false, () => { worker = new RoundWorker({ connection, jobQueueName: ownership.queueName, owns: (s) => ownership.owns(s), runRound: (n) => runRound(n, { context, agent, store, metrics: roundMetrics }), onOutcome, metrics: roundMetrics, concurrency: cfg.roundConcurrency, log: redisLog }); }, () => worker?.close()),
    // First of the leader components: the others read the fleet, so they start once it is listed.
    // Retried until listed: a controller planning from a follower's caches (no Nodes) would see every node gone.
    runnable('fleet-view', true, async () => {
      fleetView = true;
      for (let attempt = 1; manager.isLeader(); attempt++) {
        try {
          return await rescope();
        } catch (e) {
          log.warn('listing the fleet failed; retrying', { attempt, error: e });
          await sleep(Math.min(30_000, 1000 * attempt));
        }
      }
    }, () => { fleetView = false; return rescope(); }),
    // Fleet-wide gauges: the leader's (it caches the fleet); cleared when it stops leading.
    withStop(ticker('phase-metrics', true, cfg.resyncMs, () => {
      setNodesByPhase(phaseCounts(informers.nodeAttestations()));
      setEnforcementHeld(heldCounts(informers.nodeAttestations()));
      setPolicyReferencesInvalid(informers.policies().flatMap((p) => invalidReferences(p).map((c) => ({ policy: p.metadata.name, condition: c.type, reason: c.reason }))));
    }), clearFleetGauges),
    // The leader re-signs the CRL at half its lifetime; every replica re-reads what it published, for its GET /crl.
    ticker('crl-reader', false, crlRefreshPeriodMs(ca.crlLifetimeMs), () => { ca.reloadCrl().catch((e: unknown) => log.warn('CRL reload failed', { error: e })); }),
    ticker('crl-signer', true, crlRefreshPeriodMs(ca.crlLifetimeMs), () => { ca.refreshCrl().catch((e: unknown) => log.warn('CRL refresh failed', { error: e })); }),
    controller,
    ticker('resync', true, cfg.resyncMs, () => controller.resync()),
    runnable('kubelet-identity', false, () => kubeletIdentity.start(), () => kubeletIdentity.stop()),
    runnable('kubelet-identity-resync', true, () => kubeletIdentity.resync()),
  );
  await manager.start();
  log.info('started', { identity: cfg.identity, namespace: cfg.namespace, httpPort: http?.port, redis: describeRedisEndpoint(cfg.redis) });
  return () => manager.stop();
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
