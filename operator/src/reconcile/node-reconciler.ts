import { createHash } from 'node:crypto';
import type { Failure } from '@nodeward/attest';
import { OUR_TAINT_KEYS, actionsFor, releaseActions, type EnforcementAction } from '../decide/actions.js';
import { freshnessWindowMs, msUntilStale } from '../decide/freshness.js';
import type { Cluster } from '../kube/cluster.js';
import type { Logger } from '../log.js';
import type { AttestationTarget, RoundScheduler } from '../ports.js';
import { AgentError } from '../agent-client/agent-error.js';
import { budgetCondition, type Admission } from '../decide/budget.js';
import { budgetedEnforcement } from '../enforce/enforcement-budget.js';
import { decideActions, type Decision, type PlannedEvent } from '../decide/decide-actions.js';
import type { IdentityClaims } from '../registration/identity-claims.js';
import { identityFailure, type IdentityFailure } from '@nodeward/attest';
import { registerIdentity, trustAnchorsFrom, type RegistrationDeps } from '../registration/register-identity.js';
import { CONDITION, REASON, findCondition, sameConditions, setConditions, type ConditionInput } from '../status/conditions.js';
import { currentState, decisionContext, recordDecision, type StatusDeps } from '../status/outcome-handler.js';
import type { Identity, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { ANNOTATION, SHARD_LABEL } from '../status/resources.js';
import { shardLabelValue } from '../queue/round-job.js';
import { NodeConditionWrites, desiredNodeCondition, nodeConditionUpdate } from '../status/node-condition.js';
import { parseDurationMs } from './duration.js';
import { policyConditions } from './policy-conditions.js';
import { policyCounts, sameCounts } from './policy-counts.js';
import { checkTrustAnchors } from './trust-anchors.js';
import { attestationFor, findNode, makeRuntimePolicyLoader, type RoundContextCaches, type RuntimePolicyLoader } from './round-context.js';
import { internalIpOf, planNode, plan, type DesiredAttestation, type NodePlan, type PlanInputs, type PlanOptions } from './planner.js';
import type { ReconcileResult } from './work-queue.js';

export interface NodeReconcilerDeps {
  cluster: Cluster;
  caches: RoundContextCaches;
  /** The round context's loader (one compile per policy version); default: one of its own. */
  loadRuntimePolicy?: RuntimePolicyLoader;
  scheduler: RoundScheduler;
  registration: RegistrationDeps;
  /** Which node holds which TPM (EK and AK): one NodeAttestation each. */
  claims: Pick<IdentityClaims, 'claim' | 'otherHolder' | 'release' | 'drop'>;
  /** The maxUnavailable budget's admission (the leader's EnforcementBudget); default: admit. */
  admission?: (policy: NodeAttestationPolicy, nodeName: string) => Admission;
  /** Converge enforcement for one NodeAttestation (the Enforcer, bound to the agent URL). */
  enforce: (na: NodeAttestation, actions: EnforcementAction[]) => Promise<void>;
  plan: PlanOptions;
  heartbeatMs: number;
  log: Logger;
  /** Retry registration after a refusal. */
  registrationRetryMs?: number;
  /** How long a reconcile waits on the round scheduler (Redis) before failing and retrying (default 10 s). */
  schedulerTimeoutMs?: number;
  now?: () => Date;
}

const SCHEDULER_TIMEOUT_MS = 10_000;

/** `work`, or a rejection after `ms` (the work itself goes on; ioredis queues commands while Redis is away). */
export function bounded<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the round scheduler did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export const POLICY_KEY_PREFIX = 'policy/';
/** Work-queue key for a policy's status (node names cannot contain '/'). */
export const policyKey = (name: string): string => `${POLICY_KEY_PREFIX}${name}`;

/**
 * Reconciles one key, reading only the informer caches (never event payloads): a node name
 * (attestation, registration, schedule, enforcement convergence, deletion) or `policy/<name>`
 * (matchedNodes and PolicyConflict in the policy's status). Leader only.
 */
export function makeNodeReconciler(deps: NodeReconcilerDeps): (key: string) => Promise<ReconcileResult> {
  const now = (): Date => (deps.now ?? (() => new Date()))();
  const conflictsSeen = new Set<string>();
  const conditionWrites = new NodeConditionWrites();
  const statusDeps = (): StatusDeps => ({
    cluster: deps.cluster, heartbeatMs: deps.heartbeatMs, log: deps.log, enforce: deps.enforce, now,
    ...(deps.admission === undefined ? {} : { admission: deps.admission }),
    nodeAttestation: (n) => attestationFor(deps.caches, n), policy: (n) => findPolicy(deps.caches, n),
  });

  const schedulerTimeoutMs = deps.schedulerTimeoutMs ?? SCHEDULER_TIMEOUT_MS;

  /** The node's attestation, then the Node condition that mirrors it (written on change only). */
  const reconcileNode = async (nodeName: string): Promise<ReconcileResult> => {
    try {
      return await reconcileAttestation(nodeName);
    } finally {
      // Also when the attestation part throws (Redis down): a stale node's condition must still go.
      await assertNodeCondition(nodeName);
    }
  };

  /**
   * Re-asserted on every reconcile of the node, which every change to the Node or its NodeAttestation
   * triggers: a kubelet that rewrites the condition on its own Node status has it put back at once.
   */
  const assertNodeCondition = async (nodeName: string): Promise<void> => {
    const node = findNode(deps.caches, nodeName);
    if (node === undefined) return;
    const na = attestationFor(deps.caches, nodeName);
    const policy = na === undefined ? undefined : findPolicy(deps.caches, na.spec.policyName);
    const intervalMs = parseDurationMs(policy?.spec.interval) ?? deps.plan.defaultIntervalMs;
    const at = now();
    const desired = desiredNodeCondition(na, freshnessWindowMs(intervalMs, deps.heartbeatMs), at);
    const update = nodeConditionUpdate(node, desired, na !== undefined, at);
    if (update === undefined || conditionWrites.pending(node, desired)) return;
    const rv = await deps.cluster.patchNodeCondition(nodeName, update);
    conditionWrites.record(nodeName, rv, desired);
    deps.log.debug('node condition set', { node: nodeName, status: update.status, reason: update.reason });
  };

  const reconcileAttestation = async (nodeName: string): Promise<ReconcileResult> => {
    const p = planNode(nodeName, planInputs(deps.caches), deps.plan);
    if (p.removeSchedule) await bounded(deps.scheduler.remove(nodeName), schedulerTimeoutMs);
    if (p.deletion) return remove(p);
    if (p.held) return hold(p);
    if (p.conflict) return conflict(p);
    if (!p.desired) return liftStrayActions(nodeName);
    conflictsSeen.delete(nodeName);
    const existing = attestationFor(deps.caches, nodeName);
    const policy = findPolicy(deps.caches, p.desired.policyName)!;
    if (existing === undefined || !attestsUnder(existing, p.desired)) {
      await deps.cluster.applyNodeAttestation(p.desired);
      // The informer delivers the object; the next pass registers it.
      return { requeueAfterMs: 1000 };
    }
    if (p.target === undefined) return noAddress(existing, policy);
    const reg = await ensureIdentity(existing, policy, p.target);
    return reg ?? attest(existing, policy, p.target);
  };

  /**
   * Keep the node's schedule and converge its recorded decision. A Trusted node without a passing round
   * within the freshness window becomes Stale, before the schedule is touched (with Redis down, ensure()
   * waits); otherwise the schedule is asked for first, so a newly registered node's first round need not
   * wait for the convergence. Waiting on the scheduler is bounded, so a key is never stuck on Redis
   * and the next pass can still judge freshness.
   */
  const attest = async (na: NodeAttestation, policy: NodeAttestationPolicy, target: AttestationTarget): Promise<ReconcileResult> => {
    const untilStale = msUntilStale(na.status, freshnessWindowMs(target.intervalMs, deps.heartbeatMs), now());
    const stale = untilStale !== undefined && untilStale <= 0;
    const decided = withSettledSelection(na, decideActions(policy.spec, { kind: 'reconcile' }, { ...currentState(na, stale, decisionContext(statusDeps(), na, policy)), conflict: false }));
    const decision = stale ? explainStale(policy, decided) : decided;
    if (stale) await recordDecision(statusDeps(), na, policy, decision);
    const scheduled = bounded(deps.scheduler.ensure(target), schedulerTimeoutMs);
    scheduled.catch(() => undefined); // awaited below; a failed convergence must not leave it unhandled
    if (!stale) await recordDecision(statusDeps(), na, policy, decision);
    await scheduled;
    return requeueAt(untilStale, decision.enforcement.nextStepAt ?? decision.wouldEnforce?.nextStepAt, now());
  };

  /**
   * A node going Stale because its policy's runtime policy cannot be used says which field and why, in
   * its Trusted condition and its AttestationStale Event (the generic message lists every cause).
   */
  const explainStale = (policy: NodeAttestationPolicy, decision: Decision): Decision => {
    const load = loadRuntimePolicy(policy.spec);
    if (load.ok) return decision;
    const why = `no round runs: policy ${policy.metadata.name} ${load.reason}: ${load.message}`.slice(0, 2048);
    return {
      ...decision,
      conditions: decision.conditions.map((c) => (c.type === CONDITION.Trusted && c.reason === REASON.RoundsStale ? { ...c, message: why } : c)),
      events: decision.events.map((e) => (e.reason === 'AttestationStale' ? { ...e, message: why } : e)),
    };
  };

  /**
   * No address to reach the agent at, so no round: the node is still judged for freshness (a Trusted
   * node goes Stale), and looked at again when the address may be back.
   */
  const noAddress = async (na: NodeAttestation, policy: NodeAttestationPolicy): Promise<ReconcileResult> => {
    const intervalMs = parseDurationMs(policy.spec.interval) ?? deps.plan.defaultIntervalMs;
    const untilStale = msUntilStale(na.status, freshnessWindowMs(intervalMs, deps.heartbeatMs), now());
    if (untilStale !== undefined && untilStale <= 0) {
      await recordDecision(statusDeps(), na, policy, explainStale(policy, withSettledSelection(na, decideActions(policy.spec, { kind: 'reconcile' }, { ...currentState(na, true, decisionContext(statusDeps(), na, policy)), conflict: false }))));
    }
    return { requeueAfterMs: untilStale === undefined || untilStale <= 0 ? 30_000 : Math.min(30_000, untilStale + 1000) };
  };

  /** The conflict and left-the-selector conditions end once exactly this policy selects the node again. */
  const withSettledSelection = (na: NodeAttestation, decision: Decision): Decision => {
    const settled: ConditionInput[] = [];
    if (findCondition(na.status?.conditions, CONDITION.PolicyConflict)?.status === 'True') {
      settled.push({ type: CONDITION.PolicyConflict, status: 'False', reason: REASON.Selected, message: `only policy ${na.spec.policyName} selects the node` });
    }
    if (findCondition(na.status?.conditions, CONDITION.LeftPolicy)?.status === 'True') {
      settled.push({ type: CONDITION.LeftPolicy, status: 'False', reason: REASON.Selected, message: `policy ${na.spec.policyName} selects the node again` });
    }
    return settled.length === 0 ? decision : { ...decision, conditions: [...settled, ...decision.conditions] };
  };

  /**
   * The node left its policy's selector while Untrusted or enforced: keep its NodeAttestation and its
   * enforcement (re-converged, so an uncordon by the node's kubelet is undone), say so once.
   */
  const hold = async (p: NodePlan): Promise<ReconcileResult> => {
    const h = p.held!;
    const na = attestationFor(deps.caches, p.nodeName);
    if (na === undefined) return;
    const spec = findPolicy(deps.caches, h.policyName)?.spec ?? { mode: 'Enforce' as const };
    await deps.enforce(na, actionsFor(spec, na.status?.phase, na.status?.enforcement));
    if (findCondition(na.status?.conditions, CONDITION.LeftPolicy)?.status === 'True') return;
    const message = `node ${h.nodeName} no longer matches the nodeSelector of policy ${h.policyName} while ${na.status?.phase ?? 'enforced'}: `
      + `its enforcement is kept and it is not attested until an administrator deletes NodeAttestation ${h.name} (releasing it) or restores the node's labels`;
    const conditions = setConditions(na.status?.conditions, [{ type: CONDITION.LeftPolicy, status: 'True', reason: REASON.LeftPolicyWhileEnforced, message }], na.metadata.generation, now());
    await deps.cluster.applyNodeAttestationStatus(na.metadata.name, { ...na.status, conditions });
    await deps.cluster.createEvent({ type: 'Warning', reason: 'LeftPolicyWhileEnforced', message, involved: [{ kind: 'Node', name: h.nodeName }, { kind: 'NodeAttestation', name: na.metadata.name }] });
    deps.log.warn('node left its policy while enforced; enforcement kept', { node: h.nodeName, policy: h.policyName });
  };

  /** The node's TPM identity is registered, and proven at the node's current address. */
  const ensureIdentity = async (na: NodeAttestation, policy: NodeAttestationPolicy, target: AttestationTarget): Promise<ReconcileResult | undefined> => {
    const node = findNode(deps.caches, na.spec.nodeName);
    const address = node === undefined ? undefined : internalIpOf(node);
    return await ensureRegistered(na, policy, target.agentUrl, address) ?? await ensureAddressVerified(na, policy, target, address);
  };

  /**
   * Register when the NodeAttestation has no identity, or re-register an approved new identity. The
   * TPM is bound to this node only if no other NodeAttestation holds its EK or AK (an atomic claim):
   * a second Node naming a registered node's address or TPM fails here, never takes it over.
   */
  const ensureRegistered = async (na: NodeAttestation, policy: NodeAttestationPolicy, agentUrl: string, address: string | undefined): Promise<ReconcileResult | undefined> => {
    const { approve, held, needed } = registrationNeed(na);
    if (!needed) return undefined;
    const r = await registerIdentity(deps.registration, { agentUrl, spec: policy.spec, trustAnchorsPem: trustAnchors(policy) });
    if (!r.ok) return refuse(na, r.failures);
    if (held && approve !== undefined && r.identity.akName !== approve.toLowerCase()) return refuse(na, [], `the agent's AK ${r.identity.akName} is not the approved ${approve}`);
    const claim = await deps.claims.claim(na.spec.nodeName, r.identity);
    if (!claim.ok) {
      return refuse(na, [identityFailure('ClaimedByOtherNode', `the TPM at this node's address (EK ${r.identity.ekCertificateFingerprint}, AK ${r.identity.akName}) is registered to node ${claim.holder}`, { holder: claim.holder })], undefined, claim.holder);
    }
    const previous = na.status?.identity;
    await accept(na, { ...r.identity, ...(address === undefined ? {} : { agentAddress: address }) }, held, approve !== undefined);
    if (previous?.akPublic !== undefined) await deps.claims.drop(na.spec.nodeName, previous, r.identity);
    return { requeueAfterMs: 1000 };
  };

  /**
   * A Node's address is its kubelet's word: when it differs from the one the identity was proven at,
   * no round goes there (rounds go only to the identity's agentAddress, and the node's schedule is
   * dropped meanwhile) until the agent there proves, by TPM activation, that it holds this node's
   * registered EK and AK. Anything else is an identity failure on this node.
   */
  const ensureAddressVerified = async (na: NodeAttestation, policy: NodeAttestationPolicy, target: AttestationTarget, address: string | undefined): Promise<ReconcileResult | undefined> => {
    const registered = na.status?.identity;
    if (registered === undefined || address === undefined || registered.agentAddress === address) return undefined;
    await deps.scheduler.remove(na.spec.nodeName);
    const r = await registerIdentity(deps.registration, { agentUrl: target.agentUrl, spec: policy.spec, trustAnchorsPem: trustAnchors(policy) }).catch((e: unknown) => {
      if (e instanceof AgentError) return e;
      throw e;
    });
    // Nothing answers at the new address: a miss each interval, as a silent agent's rounds are (never Trusted by moving away).
    if (r instanceof AgentError) return addressMiss(na, policy, target, r);
    const failures = r.ok ? await mismatchAt(na.spec.nodeName, registered, r.identity, address) : r.failures;
    if (failures.length === 0) {
      await deps.cluster.applyNodeAttestationStatus(na.metadata.name, { ...na.status, identity: { ...registered, agentAddress: address } });
      deps.log.info('node address re-verified', { node: na.spec.nodeName, address });
      return { requeueAfterMs: 1000 };
    }
    const at = now();
    const outcome = { kind: 'identity-changed' as const, nodeName: na.spec.nodeName, policyName: policy.metadata.name, at, failures, akName: registered.akName };
    await recordDecision(statusDeps(), na, policy, decideActions(policy.spec, { kind: 'identity-changed', failures }, currentState(na, false, decisionContext(statusDeps(), na, policy))), outcome);
    await identityEvent(na, failures[0]!);
    return { requeueAfterMs: deps.registrationRetryMs ?? 30_000 };
  };

  const addressMiss = async (na: NodeAttestation, policy: NodeAttestationPolicy, target: AttestationTarget, e: AgentError): Promise<ReconcileResult> => {
    const error = `re-verifying the node's new address: ${e.message}`;
    const outcome = { kind: 'unreachable' as const, nodeName: na.spec.nodeName, policyName: policy.metadata.name, at: now(), error };
    await recordDecision(statusDeps(), na, policy, decideActions(policy.spec, { kind: 'unreachable', error }, currentState(na, false, decisionContext(statusDeps(), na, policy))), outcome);
    return { requeueAfterMs: target.intervalMs };
  };

  /** Failures when the TPM found at a node's new address is not the one registered for it. */
  const mismatchAt = async (nodeName: string, registered: Identity, found: Identity, address: string): Promise<IdentityFailure[]> => {
    if (found.ekCertificateFingerprint === registered.ekCertificateFingerprint && found.akName === registered.akName) return [];
    const holder = await deps.claims.otherHolder(nodeName, found);
    return holder === undefined
      ? [identityFailure('ChangedAtNewAddress', `the agent at the node's new address ${address} holds a TPM other than the registered one (AK ${found.akName}, registered ${registered.akName})`, { address })]
      : [identityFailure('AddressServesOtherNode', `the node's new address ${address} is node ${holder}'s agent (AK ${found.akName})`, { address, holder })];
  };

  const trustAnchors = (policy: NodeAttestationPolicy): string[] | undefined => {
    const ref = policy.spec.tpm.ekTrustAnchors?.configMapRef;
    return ref === undefined ? undefined : trustAnchorsFrom(policy.spec, deps.caches.configMap(ref.namespace, ref.name)?.data);
  };

  /** Registration refused: Registered False, the first failure as lastFailure, and an identity.* failure as a Warning Event. */
  const refuse = async (na: NodeAttestation, failures: readonly Failure[], note?: string, holder?: string): Promise<ReconcileResult> => {
    const message = note ?? failures.map((f) => `${f.id}: ${f.message}`).join('; ');
    const conditions = setConditions(na.status?.conditions, [{ type: CONDITION.Registered, status: 'False', reason: REASON.RegistrationFailed, message }], na.metadata.generation, now());
    const first = failures[0];
    await deps.cluster.applyNodeAttestationStatus(na.metadata.name, {
      ...na.status, phase: na.status?.phase ?? 'Pending', conditions,
      ...(first === undefined ? {} : { lastFailure: { reason: first.id, detail: first.message.slice(0, 4096) } }),
    });
    if (first?.id.startsWith('identity.') === true) await identityEvent(na, first, holder);
    return { requeueAfterMs: deps.registrationRetryMs ?? 30_000 };
  };

  /** A Warning Event on the node (and on the other node, when one holds the TPM), posted once per failure and holder. */
  const identityEvent = async (na: NodeAttestation, f: Failure, holder?: string): Promise<void> => {
    const other = holder ?? (typeof f.context?.['holder'] === 'string' ? f.context['holder'] : undefined);
    await deps.cluster.createEvent({
      type: 'Warning', reason: 'IdentityRefused', message: `node ${na.spec.nodeName}: ${f.id}: ${f.message}`.slice(0, 1024),
      involved: [{ kind: 'Node', name: na.spec.nodeName }, { kind: 'NodeAttestation', name: na.metadata.name }, ...(other === undefined ? [] : [{ kind: 'Node' as const, name: other }])],
      id: `identity-${createHash('sha256').update(`${na.metadata.uid ?? na.metadata.name}/${f.id}/${other ?? ''}`).digest('hex').slice(0, 32)}`,
    });
  };

  /** Record the identity (an approved re-registration keeps phase and enforcement until a round passes). */
  const accept = async (na: NodeAttestation, identity: Identity, held: boolean, approved: boolean): Promise<void> => {
    const conditions = setConditions(na.status?.conditions, [
      { type: CONDITION.Registered, status: 'True', reason: REASON.Registered, message: `AK ${identity.akName}` },
      { type: CONDITION.Trusted, status: 'Unknown', reason: REASON.AwaitingRegistration, message: 'registered; waiting for the first round' },
    ], na.metadata.generation, now());
    await deps.cluster.applyNodeAttestationStatus(na.metadata.name, {
      ...na.status, phase: held ? na.status?.phase ?? 'Registered' : 'Registered', identity, conditions, consecutiveMisses: 0,
      enforcement: na.status?.enforcement ?? { tainted: false, cordoned: false, credentialsRevoked: false },
    });
    if (approved) await deps.cluster.annotateNodeAttestation(na.metadata.name, { [ANNOTATION.approveIdentity]: null });
    await deps.cluster.createEvent({
      type: 'Normal', reason: 'Registered', message: `TPM identity registered: AK ${identity.akName}, EK certificate ${identity.ekCertificateFingerprint}`,
      involved: [{ kind: 'Node', name: na.spec.nodeName }, { kind: 'NodeAttestation', name: na.metadata.name }],
    });
  };

  /**
   * A node no policy attests carries none of our actions. `remove` lifts them, but a round already in
   * flight when the node was unselected may re-apply one afterwards; level-based, this undoes it.
   */
  const liftStrayActions = async (nodeName: string): Promise<ReconcileResult> => {
    const node = findNode(deps.caches, nodeName);
    if (node === undefined || !carriesOurActions(node) || attestationFor(deps.caches, nodeName) !== undefined) return;
    const target: NodeAttestation = { metadata: { name: nodeName }, spec: { nodeName, policyName: '' } };
    await deps.enforce(target, releaseActions());
    deps.log.info('lifted actions from a node no policy attests', { node: nodeName });
  };

  /** Node deleted or unselected, or policy deleted: lift our actions, revoke, delete the NodeAttestation. */
  const remove = async (p: NodePlan): Promise<ReconcileResult> => {
    const na = attestationFor(deps.caches, p.nodeName);
    if (na !== undefined) {
      await deps.enforce(na, releaseActions());
    }
    await deps.cluster.deleteNodeAttestation(p.deletion!.name);
    // The TPM is free for another node only once this NodeAttestation is really gone.
    if (na?.status?.identity !== undefined) await deps.claims.release(p.nodeName, na.status.identity);
    deps.log.info('node no longer attested', { node: p.nodeName, reason: p.deletion!.reason });
    return;
  };

  /**
   * Two or more policies select the node: it is never Trusted meanwhile (phase Conflict), keeps its
   * enforcement, and goes on being attested under the policy it already had, so a compromise is caught.
   */
  const conflict = async (p: NodePlan): Promise<ReconcileResult> => {
    const c = p.conflict!;
    const message = `node ${c.nodeName} is selected by ${c.policyNames.length} policies (${c.policyNames.join(', ')}): never Trusted until exactly one selects it`;
    const na = attestationFor(deps.caches, c.nodeName);
    const already = findCondition(na?.status?.conditions, CONDITION.PolicyConflict)?.status === 'True' || conflictsSeen.has(c.nodeName);
    if (na !== undefined) await markConflict(na, { type: CONDITION.PolicyConflict, status: 'True', reason: REASON.MultiplePolicies, message });
    if (!already) {
      await deps.cluster.createEvent({ type: 'Warning', reason: 'PolicyConflict', message, involved: [{ kind: 'Node', name: c.nodeName }] });
      conflictsSeen.add(c.nodeName);
    }
    if (p.target !== undefined) await bounded(deps.scheduler.ensure(p.target), schedulerTimeoutMs);
    return;
  };

  /** Record the conflict: through the node's policy's decision (phase Conflict unless it is already failing), or the condition alone. */
  const markConflict = async (na: NodeAttestation, condition: ConditionInput): Promise<void> => {
    const policy = findPolicy(deps.caches, na.spec.policyName);
    if (policy !== undefined) {
      const decision = decideActions(policy.spec, { kind: 'reconcile' }, { ...currentState(na, false, decisionContext(statusDeps(), na, policy)), conflict: true });
      await recordDecision(statusDeps(), na, policy, { ...decision, conditions: [condition, ...decision.conditions] });
    } else if (findCondition(na.status?.conditions, CONDITION.PolicyConflict)?.status !== 'True') {
      const conditions = setConditions(na.status?.conditions, [condition], na.metadata.generation, now());
      await deps.cluster.applyNodeAttestationStatus(na.metadata.name, { ...na.status, conditions });
    }
  };

  const loadRuntimePolicy = deps.loadRuntimePolicy ?? makeRuntimePolicyLoader(deps.caches);

  const reconcilePolicy = async (name: string): Promise<ReconcileResult> => {
    const policy = findPolicy(deps.caches, name);
    if (policy === undefined) return;
    const all = plan(planInputs(deps.caches), deps.plan).policies[name] ?? { matchedNodes: 0, conflictingNodes: [] };
    const gen = policy.metadata.generation;
    const { conditions: more, events } = policyConditions(policy, loadRuntimePolicy(policy.spec), checkTrustAnchors(policy.spec, (ns, n) => deps.caches.configMap(ns, n)));
    const budget = budgetStatus(deps.caches, policy);
    events.push(...budget.events);
    const counts = policyCounts(name, deps.caches.nodeAttestations());
    const status = { matchedNodes: all.matchedNodes, ...counts, observedGeneration: gen ?? 0, conditions: setConditions(policy.status?.conditions, [conflictCondition(all.conflictingNodes), ...more, ...budget.conditions], gen, now()) };
    const prev = policy.status;
    if (prev?.matchedNodes === status.matchedNodes && sameCounts(prev, counts) && prev.observedGeneration === status.observedGeneration && sameConditions(prev.conditions, status.conditions)) return;
    await deps.cluster.applyPolicyStatus(name, status);
    for (const e of events) await deps.cluster.createEvent({ ...e, involved: [{ kind: 'NodeAttestationPolicy', name, ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}) }] });
    return;
  };

  return (key: string) => (key.startsWith(POLICY_KEY_PREFIX) ? reconcilePolicy(key.slice(POLICY_KEY_PREFIX.length)) : reconcileNode(key));
}

/**
 * The policy's BudgetExceeded condition from the nodes its maxUnavailable budget holds (the would-be
 * holds in Audit), and an EnforcementHeld Warning when it turns True; none for a policy that never had a budget.
 */
function budgetStatus(c: RoundContextCaches, policy: NodeAttestationPolicy): { conditions: ConditionInput[]; events: PlannedEvent[] } {
  const before = findCondition(policy.status?.conditions, CONDITION.BudgetExceeded);
  if (policy.spec.maxUnavailable === undefined && before === undefined) return { conditions: [], events: [] };
  const held = c.nodeAttestations().filter((na) => na.spec.policyName === policy.metadata.name && budgetedEnforcement(na, policy)?.held === true).map((na) => na.spec.nodeName).sort();
  const condition = budgetCondition(policy.spec.maxUnavailable, held);
  const turned = condition.status === 'True' && before?.status !== 'True';
  return { conditions: [condition], events: turned ? [{ type: 'Warning', reason: 'EnforcementHeld', message: condition.message }] : [] };
}

/** Look again when the node may turn Stale or its next escalation step is due, whichever is first. */
function requeueAt(untilStaleMs: number | undefined, nextStepAt: string | undefined, now: Date): ReconcileResult {
  const untilStep = nextStepAt === undefined ? undefined : Date.parse(nextStepAt) - now.getTime();
  const waits = [untilStaleMs, untilStep].filter((w): w is number => w !== undefined && !Number.isNaN(w));
  return waits.length === 0 ? undefined : { requeueAfterMs: Math.max(Math.min(...waits), 0) + 1000 };
}

function conflictCondition(conflictingNodes: readonly string[]): ConditionInput {
  return conflictingNodes.length > 0
    ? { type: CONDITION.PolicyConflict, status: 'True', reason: REASON.MultiplePolicies, message: `nodes also selected by another policy: ${conflictingNodes.join(', ')}`.slice(0, 4096) }
    : { type: CONDITION.PolicyConflict, status: 'False', reason: 'NoConflict', message: '' };
}

/** The NodeAttestation is the desired one: same policy, owned by that policy object (not a deleted namesake). */
/** Whether the NodeAttestation is the desired one, shard label included (a follower's cache selects on it). */
function attestsUnder(na: NodeAttestation, desired: DesiredAttestation): boolean {
  return na.spec.policyName === desired.policyName && na.metadata.ownerReferences?.[0]?.uid === desired.ownerReference.uid
    && na.metadata.labels?.[SHARD_LABEL] === shardLabelValue(desired.shard);
}

function carriesOurActions(node: NodeView): boolean {
  return (node.spec?.taints ?? []).some((t) => (OUR_TAINT_KEYS as readonly string[]).includes(t.key))
    || node.metadata.annotations?.[ANNOTATION.cordonedBy] !== undefined;
}

function findPolicy(c: RoundContextCaches, name: string): NodeAttestationPolicy | undefined {
  return c.policies().find((p) => p.metadata.name === name && p.metadata.deletionTimestamp == null);
}

/** The plan's inputs, with the caches' indexed lookups when they have them (a plan is then O(policies), not O(nodes)). */
export function planInputs(c: RoundContextCaches): PlanInputs {
  const base: PlanInputs = { policies: c.policies(), nodes: c.nodes(), nodeAttestations: c.nodeAttestations() };
  if (c.node !== undefined) base.node = c.node.bind(c);
  if (c.nodeAttestation !== undefined) base.nodeAttestation = c.nodeAttestation.bind(c);
  return base;
}

/** Whether a NodeAttestation needs (re-)registration: no identity yet, or an approved identity change. */
function registrationNeed(na: NodeAttestation): { approve: string | undefined; held: boolean; needed: boolean } {
  const approve = na.metadata.annotations?.[ANNOTATION.approveIdentity];
  const held = findCondition(na.status?.conditions, CONDITION.Trusted)?.reason === REASON.IdentityChanged;
  return { approve, held, needed: na.status?.identity?.akPublic === undefined || (held && approve !== undefined) };
}
