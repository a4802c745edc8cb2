import {
  CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions,
  type KubeConfig, type V1ConfigMap, type V1Node, type V1Pod, type V1Taint, type CoreV1Event,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { ConfigMapView, DrainProgress, NodeAttestation, NodeAttestationPolicy, NodeAttestationStatus, NodeCondition, NodeView, PodView } from '../status/resources.js';
import { API_VERSION, DRAIN_FIELD_MANAGER, FIELD_MANAGER, GROUP, NODE_CONDITION_TRUSTED, SHARD_LABEL, VERSION } from '../status/resources.js';
import { shardLabelValue } from '../queue/round-job.js';
import type { Cluster, ClusterEvent, EvictionResult, NodeEdit, Pods } from './cluster.js';
import { isAlreadyExists, isConflict, isNotFound, isTooManyRequests, kubeCall } from './errors.js';
import { OwnStatusWrites } from './own-status-writes.js';
import { resourceVersionAtLeast } from './resource-version.js';

const NA = { group: GROUP, version: VERSION, plural: 'nodeattestations' };
const NAP = { group: GROUP, version: VERSION, plural: 'nodeattestationpolicies' };
const SSA = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const MAX_CONFLICT_RETRIES = 8;

/** Counts every write request sent to the API server (for the steady-state write metric). */
export type WriteCounter = (verb: string, resource: string) => void;

/**
 * The Cluster port over @kubernetes/client-node: SSA with field manager `nodeward` for our
 * objects and their status, read-modify-write with resourceVersion for Nodes.
 */
export class KubeCluster implements Cluster, Pods {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private cachedNode: ((name: string) => NodeView | undefined) | undefined;
  /** Per Node, the resourceVersion our last write returned, until the informer's copy has caught up with it. */
  private readonly ownNodeWrites = new Map<string, string>();
  /** Per NodeAttestation, the status our last write set, until the informer's copy has caught up with it. */
  private readonly ownStatusWrites = new OwnStatusWrites();

  constructor(
    kc: KubeConfig,
    private readonly eventNamespace = 'default',
    private readonly countWrite: WriteCounter = () => undefined,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async applyNodeAttestation(na: Parameters<Cluster['applyNodeAttestation']>[0]): Promise<void> {
    const body = {
      apiVersion: API_VERSION,
      kind: 'NodeAttestation',
      metadata: { name: na.name, ownerReferences: [na.ownerReference], labels: { [SHARD_LABEL]: shardLabelValue(na.shard) } },
      spec: { nodeName: na.nodeName, policyName: na.policyName },
    };
    this.countWrite('apply', 'nodeattestations');
    await kubeCall(() => this.custom.patchClusterCustomObject({ ...NA, name: na.name, body, fieldManager: FIELD_MANAGER, force: true }, SSA));
  }

  async applyNodeAttestationStatus(name: string, status: NodeAttestationStatus): Promise<void> {
    // status.drain belongs to the drain's own field manager: applying a cached copy here would reset its progress.
    const owned = { ...status };
    delete owned.drain;
    const body = { apiVersion: API_VERSION, kind: 'NodeAttestation', metadata: { name }, status: owned };
    this.countWrite('apply', 'nodeattestations/status');
    this.ownStatusWrites.forget(name);
    const written = await kubeCall(() => this.custom.patchClusterCustomObjectStatus({ ...NA, name, body, fieldManager: FIELD_MANAGER, force: true }, SSA)) as { metadata?: { resourceVersion?: string } } | undefined;
    this.ownStatusWrites.record(name, written?.metadata?.resourceVersion, status);
  }

  async applyDrainStatus(name: string, drain: DrainProgress | undefined): Promise<void> {
    const body = { apiVersion: API_VERSION, kind: 'NodeAttestation', metadata: { name }, status: drain === undefined ? {} : { drain } };
    this.countWrite('apply', 'nodeattestations/status');
    await kubeCall(() => this.custom.patchClusterCustomObjectStatus({ ...NA, name, body, fieldManager: DRAIN_FIELD_MANAGER, force: true }, SSA));
  }

  async listPodsOnNode(nodeName: string): Promise<PodView[]> {
    const list = await kubeCall(() => this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }));
    return list.items.map(toPodView);
  }

  async evictPod(namespace: string, name: string): Promise<EvictionResult> {
    this.countWrite('create', 'pods/eviction');
    try {
      await kubeCall(() => this.core.createNamespacedPodEviction({ namespace, name, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } }));
      return 'evicted';
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      if (isTooManyRequests(e)) return 'blocked';
      throw e;
    }
  }

  /** The informer's copy of a NodeAttestation, with the status this replica last wrote while the copy predates that write. */
  latestNodeAttestation(cached: NodeAttestation | undefined): NodeAttestation | undefined {
    return this.ownStatusWrites.latest(cached);
  }

  async deleteNodeAttestation(name: string): Promise<void> {
    this.countWrite('delete', 'nodeattestations');
    this.ownStatusWrites.forget(name);
    await ignoreNotFound(kubeCall(() => this.custom.deleteClusterCustomObject({ ...NA, name })));
  }

  async annotateNodeAttestation(name: string, annotations: Record<string, string | null>): Promise<void> {
    this.countWrite('patch', 'nodeattestations');
    await kubeCall(() => this.custom.patchClusterCustomObject({ ...NA, name, body: { metadata: { annotations } } }, MERGE));
  }

  async applyPolicyStatus(name: string, status: NonNullable<NodeAttestationPolicy['status']>): Promise<void> {
    const body = { apiVersion: API_VERSION, kind: 'NodeAttestationPolicy', metadata: { name }, status };
    this.countWrite('apply', 'nodeattestationpolicies/status');
    await kubeCall(() => this.custom.patchClusterCustomObjectStatus({ ...NAP, name, body, fieldManager: FIELD_MANAGER, force: true }, SSA));
  }

  async getNodeAttestation(name: string): Promise<NodeAttestation | undefined> {
    return ignoreNotFound(kubeCall(async () => (await this.custom.getClusterCustomObject({ ...NA, name })) as NodeAttestation));
  }

  async getNode(name: string): Promise<NodeView | undefined> {
    return ignoreNotFound(kubeCall(async () => toNodeView(await this.core.readNode({ name }))));
  }

  /**
   * Lets editNode decide "nothing to change" from the informer's copy of a Node instead of a GET
   * (most convergences change nothing on the Node). Every write still reads the Node from the API
   * server and is guarded by its resourceVersion.
   */
  useNodeCache(lookup: (name: string) => NodeView | undefined): void {
    this.cachedNode = lookup;
  }

  async editNode(name: string, edit: (node: NodeView) => NodeEdit | undefined): Promise<boolean> {
    const cached = this.cachedNodeSinceOwnWrite(name);
    if (cached !== undefined && edit(cached) === undefined) return false;
    for (let attempt = 0; ; attempt += 1) {
      const node = await ignoreNotFound(kubeCall(() => this.core.readNode({ name })));
      if (node === undefined) return false;
      const change = edit(toNodeView(node));
      if (change === undefined) return false;
      try {
        this.countWrite('update', 'nodes');
        const written = await kubeCall(() => this.core.replaceNode({ name, body: applyEdit(node, change), fieldManager: FIELD_MANAGER }));
        this.ownNodeWrites.set(name, written.metadata?.resourceVersion ?? '');
        return true;
      } catch (e) {
        if (!isConflict(e) || attempt >= MAX_CONFLICT_RETRIES) throw e;
      }
    }
  }

  async patchNodeCondition(name: string, condition: NodeCondition): Promise<string | undefined> {
    this.countWrite('patch', 'nodes/status');
    const body = { status: { conditions: [condition] } };
    const written = await ignoreNotFound(kubeCall(() => this.core.patchNodeStatus({ name, body, fieldManager: FIELD_MANAGER }, STRATEGIC)));
    return written?.metadata?.resourceVersion;
  }

  /**
   * The informer's copy of a Node, when it already shows our own last write to it (its
   * resourceVersion at least the one that write returned); undefined (read it from the API server)
   * when there is no copy, or it predates that write: deciding from it could undo or skip a taint.
   */
  private cachedNodeSinceOwnWrite(name: string): NodeView | undefined {
    const cached = this.cachedNode?.(name);
    if (cached === undefined) return undefined;
    const written = this.ownNodeWrites.get(name);
    if (written === undefined) return cached;
    if (!resourceVersionAtLeast(cached.metadata.resourceVersion, written)) return undefined;
    this.ownNodeWrites.delete(name);
    return cached;
  }

  async createEvent(event: ClusterEvent): Promise<void> {
    const now = new Date();
    // One Event per involved object, posted together (the taint that follows does not wait for each in turn).
    await Promise.all(event.involved.map(async (obj) => {
      const body: CoreV1Event = {
        metadata: { name: eventName(obj, event.id, now), namespace: this.eventNamespace },
        involvedObject: {
          kind: obj.kind,
          name: obj.name,
          ...(obj.kind === 'Node' ? { apiVersion: 'v1' } : { apiVersion: API_VERSION }),
          ...(obj.uid === undefined ? {} : { uid: obj.uid }),
        },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component: 'nodeward-operator' },
        reportingComponent: 'nodeward.io/operator',
        reportingInstance: process.env['HOSTNAME'] ?? 'nodeward-operator',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      this.countWrite('create', 'events');
      try {
        await kubeCall(() => this.core.createNamespacedEvent({ namespace: this.eventNamespace, body }));
      } catch (e) {
        // An Event with an id was already posted (before a crash): that one stands.
        if (!(event.id !== undefined && isAlreadyExists(e))) throw e;
      }
    }));
  }

  async getSecret(namespace: string, name: string): Promise<{ data: Record<string, string>; annotations: Record<string, string>; resourceVersion?: string } | undefined> {
    const s = await ignoreNotFound(kubeCall(() => this.core.readNamespacedSecret({ namespace, name })));
    if (s === undefined) return undefined;
    const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    return { data, annotations: s.metadata?.annotations ?? {}, ...(s.metadata?.resourceVersion === undefined ? {} : { resourceVersion: s.metadata.resourceVersion }) };
  }

  async createSecret(namespace: string, name: string, data: Record<string, string>, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Promise<boolean> {
    try {
      this.countWrite('create', 'secrets');
      await kubeCall(() => this.core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace, ...meta }, type: 'Opaque', stringData: data } }));
      return true;
    } catch (e) {
      if (isAlreadyExists(e)) return false;
      throw e;
    }
  }

  async applySecret(namespace: string, name: string, data: Record<string, string>, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, ...meta }, type: 'Opaque', stringData: data };
    this.countWrite('apply', 'secrets');
    await kubeCall(() => this.core.patchNamespacedSecret({ namespace, name, body, fieldManager: FIELD_MANAGER, force: true }, SSA));
  }

  async deleteSecret(namespace: string, name: string, resourceVersion?: string): Promise<boolean> {
    this.countWrite('delete', 'secrets');
    const body = resourceVersion === undefined ? {} : { body: { preconditions: { resourceVersion } } };
    try {
      return (await ignoreNotFound(kubeCall(() => this.core.deleteNamespacedSecret({ namespace, name, ...body })))) !== undefined;
    } catch (e) {
      // A failed precondition (another version now) is a 409.
      if (resourceVersion !== undefined && isConflict(e)) return false;
      throw e;
    }
  }

  async getConfigMap(namespace: string, name: string): Promise<ConfigMapView | undefined> {
    const cm = await ignoreNotFound(kubeCall(() => this.core.readNamespacedConfigMap({ namespace, name })));
    return cm === undefined ? undefined : { metadata: { name, namespace, resourceVersion: cm.metadata?.resourceVersion ?? '' }, data: cm.data ?? {} };
  }

  async applyConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
    this.countWrite('apply', 'configmaps');
    await kubeCall(() => this.core.patchNamespacedConfigMap({ namespace, name, body, fieldManager: FIELD_MANAGER, force: true }, SSA));
  }

  async mergeConfigMapData(namespace: string, name: string, data: Record<string, string | null>): Promise<ConfigMapView> {
    for (let attempt = 0; ; attempt += 1) {
      this.countWrite('patch', 'configmaps');
      const patched = await ignoreNotFound(kubeCall(() => this.core.patchNamespacedConfigMap({ namespace, name, body: { data }, fieldManager: FIELD_MANAGER }, MERGE)));
      if (patched !== undefined) return toConfigMapView(patched);
      const set = Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => e[1] !== null));
      try {
        this.countWrite('create', 'configmaps');
        return toConfigMapView(await kubeCall(() => this.core.createNamespacedConfigMap({ namespace, body: { metadata: { name, namespace }, data: set }, fieldManager: FIELD_MANAGER })));
      } catch (e) {
        // Created meanwhile by someone else: patch that one.
        if (!isAlreadyExists(e) || attempt >= MAX_CONFLICT_RETRIES) throw e;
      }
    }
  }
}

function toConfigMapView(cm: V1ConfigMap): ConfigMapView {
  const m = cm.metadata ?? {};
  return { metadata: { name: m.name ?? '', namespace: m.namespace ?? '', resourceVersion: m.resourceVersion ?? '' }, data: cm.data ?? {} };
}

async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function toNodeView(n: V1Node): NodeView {
  const m = n.metadata ?? {};
  const optional = Object.fromEntries(Object.entries({ resourceVersion: m.resourceVersion, uid: m.uid, deletionTimestamp: m.deletionTimestamp }).filter(([, v]) => v !== undefined));
  return {
    metadata: { name: m.name ?? '', labels: m.labels ?? {}, annotations: m.annotations ?? {}, ...optional },
    spec: { taints: (n.spec?.taints ?? []).map((t) => ({ ...t })), unschedulable: n.spec?.unschedulable === true },
    status: { addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })), ...ourConditions(n) },
  };
}

/** The Node conditions the operator writes, as strings (the kubelet's are not kept: memory at 10,000 nodes). */
function ourConditions(n: V1Node): { conditions?: NodeCondition[] } {
  const ours = (n.status?.conditions ?? []).filter((c) => c.type === NODE_CONDITION_TRUSTED);
  if (ours.length === 0) return {};
  const time = (t: Date | string | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  return {
    conditions: ours.map((c) => {
      const transition = time(c.lastTransitionTime);
      const heartbeat = time(c.lastHeartbeatTime);
      return {
        type: c.type, status: c.status as NodeCondition['status'], reason: c.reason ?? '', message: c.message ?? '',
        ...(transition === undefined ? {} : { lastTransitionTime: transition }), ...(heartbeat === undefined ? {} : { lastHeartbeatTime: heartbeat }),
      };
    }),
  };
}

export function toPodView(p: V1Pod): PodView {
  return {
    namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '',
    ownerKinds: (p.metadata?.ownerReferences ?? []).filter((o) => o.controller === true).map((o) => o.kind),
    mirror: p.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined,
    ...(p.status?.phase === undefined ? {} : { phase: p.status.phase }),
    terminating: p.metadata?.deletionTimestamp != null,
  };
}

/** The fresh node with the edit applied; metadata.resourceVersion stays, so a stale write is a 409. */
function applyEdit(node: V1Node, edit: NodeEdit): V1Node {
  const annotations: Record<string, string> = { ...(node.metadata?.annotations ?? {}) };
  for (const [k, v] of Object.entries(edit.annotations ?? {})) {
    if (v === null) delete annotations[k];
    else annotations[k] = v;
  }
  const taints = edit.taints === undefined ? node.spec?.taints : edit.taints.map((t): V1Taint => ({
    key: t.key, effect: t.effect, ...(t.value === undefined ? {} : { value: t.value }),
    ...(t.timeAdded === undefined ? {} : { timeAdded: new Date(t.timeAdded) }),
  }));
  return {
    ...node,
    metadata: { ...node.metadata, annotations },
    spec: { ...node.spec, taints, ...(edit.unschedulable === undefined ? {} : { unschedulable: edit.unschedulable }) },
  };
}

/**
 * An Event's name: unique per post, or, with an id, the same for every post of that Event about that
 * object (the kind too, since a Node and its NodeAttestation share a name).
 */
function eventName(obj: ClusterEvent['involved'][number], id: string | undefined, now: Date): string {
  return id === undefined ? `${obj.name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}` : `${obj.name}.${obj.kind.toLowerCase()}.${id}`;
}
