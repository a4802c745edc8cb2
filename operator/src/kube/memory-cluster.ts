import type { ConfigMapView, DrainProgress, NodeAttestation, NodeAttestationPolicy, NodeAttestationStatus, NodeCondition, NodeView, PodView } from '../status/resources.js';
import { SHARD_LABEL } from '../status/resources.js';
import { shardLabelValue } from '../queue/round-job.js';
import type { Cluster, ClusterEvent, EvictionResult, NodeEdit, Pods } from './cluster.js';

/**
 * An in-memory Cluster for unit tests of the control plane: same contract as KubeCluster
 * (idempotent deletes, create-if-absent, whole-status apply), with every write recorded.
 * `failNext` makes the next call of a method throw, to simulate a crash between two steps.
 */
export class MemoryCluster implements Cluster, Pods {
  nodes = new Map<string, NodeView>();
  /** Pods per node name. */
  pods = new Map<string, PodView[]>();
  /** namespace/name of pods whose eviction a PodDisruptionBudget refuses. */
  disruptionBudgetBlocks = new Set<string>();
  attestations = new Map<string, NodeAttestation>();
  policyStatus = new Map<string, NonNullable<NodeAttestationPolicy['status']>>();
  secrets = new Map<string, { data: Record<string, string>; annotations: Record<string, string>; resourceVersion?: string }>();
  private secretVersion = 0;
  configMaps = new Map<string, Record<string, string>>();
  private configMapVersion = 0;
  events: ClusterEvent[] = [];
  writes: string[] = [];
  private failures = new Map<string, Error>();

  failNext(method: keyof Cluster, error = new Error(`injected failure in ${method}`)): void {
    this.failures.set(method, error);
  }
  private check(method: keyof Cluster): void {
    const e = this.failures.get(method);
    if (e !== undefined) {
      this.failures.delete(method);
      throw e;
    }
  }
  private write(what: string): void {
    this.writes.push(what);
  }

  async applyNodeAttestation(na: Parameters<Cluster['applyNodeAttestation']>[0]): Promise<void> {
    this.check('applyNodeAttestation');
    this.write(`apply na/${na.name}`);
    const cur = this.attestations.get(na.name);
    this.attestations.set(na.name, {
      metadata: { ...(cur?.metadata ?? {}), name: na.name, ownerReferences: [na.ownerReference], labels: { ...(cur?.metadata.labels ?? {}), [SHARD_LABEL]: shardLabelValue(na.shard) }, generation: 1 },
      spec: { nodeName: na.nodeName, policyName: na.policyName },
      ...(cur?.status ? { status: cur.status } : {}),
    });
    return Promise.resolve();
  }
  async applyNodeAttestationStatus(name: string, status: NodeAttestationStatus): Promise<void> {
    this.check('applyNodeAttestationStatus');
    this.write(`status na/${name}`);
    const cur = this.attestations.get(name);
    if (cur === undefined) throw Object.assign(new Error('not found'), { status: 404 });
    // status.drain has its own field manager (as in KubeCluster): this write leaves it alone.
    const owned = structuredClone(status);
    delete owned.drain;
    this.attestations.set(name, { ...cur, status: { ...owned, ...(cur.status?.drain === undefined ? {} : { drain: cur.status.drain }) } });
    return Promise.resolve();
  }
  async applyDrainStatus(name: string, drain: DrainProgress | undefined): Promise<void> {
    this.write(`drain na/${name}`);
    const cur = this.attestations.get(name);
    if (cur === undefined) throw Object.assign(new Error('not found'), { status: 404 });
    const rest = { ...cur.status };
    delete rest.drain;
    this.attestations.set(name, { ...cur, status: { ...rest, ...(drain === undefined ? {} : { drain: structuredClone(drain) }) } });
    return Promise.resolve();
  }
  async listPodsOnNode(nodeName: string): Promise<PodView[]> {
    return Promise.resolve(structuredClone(this.pods.get(nodeName) ?? []));
  }
  async evictPod(namespace: string, name: string): Promise<EvictionResult> {
    if (this.disruptionBudgetBlocks.has(`${namespace}/${name}`)) return Promise.resolve('blocked');
    const pod = [...this.pods.values()].flat().find((p) => p.namespace === namespace && p.name === name);
    if (pod === undefined) return Promise.resolve('gone');
    this.write(`evict pod/${namespace}/${name}`);
    pod.terminating = true;
    return Promise.resolve('evicted');
  }
  async deleteNodeAttestation(name: string): Promise<void> {
    this.check('deleteNodeAttestation');
    this.write(`delete na/${name}`);
    this.attestations.delete(name);
    return Promise.resolve();
  }
  async annotateNodeAttestation(name: string, annotations: Record<string, string | null>): Promise<void> {
    this.check('annotateNodeAttestation');
    this.write(`annotate na/${name}`);
    const cur = this.attestations.get(name);
    if (cur === undefined) return;
    const a = { ...(cur.metadata.annotations ?? {}) };
    for (const [k, v] of Object.entries(annotations)) {
      if (v === null) delete a[k];
      else a[k] = v;
    }
    cur.metadata.annotations = a;
    return Promise.resolve();
  }
  async applyPolicyStatus(name: string, status: NonNullable<NodeAttestationPolicy['status']>): Promise<void> {
    this.write(`status policy/${name}`);
    this.policyStatus.set(name, status);
    return Promise.resolve();
  }
  async getNodeAttestation(name: string): Promise<NodeAttestation | undefined> {
    return Promise.resolve(structuredClone(this.attestations.get(name)));
  }
  async getNode(name: string): Promise<NodeView | undefined> {
    return Promise.resolve(structuredClone(this.nodes.get(name)));
  }
  async editNode(name: string, edit: (node: NodeView) => NodeEdit | undefined): Promise<boolean> {
    this.check('editNode');
    const node = await Promise.resolve(this.nodes.get(name));
    if (node === undefined) return false;
    const change = edit(structuredClone(node));
    if (change === undefined) return false;
    this.write(`update node/${name}`);
    const annotations = { ...(node.metadata.annotations ?? {}) };
    for (const [k, v] of Object.entries(change.annotations ?? {})) {
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    }
    this.nodes.set(name, {
      ...node,
      metadata: { ...node.metadata, annotations },
      spec: { ...node.spec, ...(change.taints ? { taints: change.taints } : {}), ...(change.unschedulable === undefined ? {} : { unschedulable: change.unschedulable }) },
    });
    return true;
  }
  async patchNodeCondition(name: string, condition: NodeCondition): Promise<string | undefined> {
    this.check('patchNodeCondition');
    const node = this.nodes.get(name);
    if (node === undefined) return Promise.resolve(undefined);
    this.write(`status node/${name}`);
    const others = (node.status?.conditions ?? []).filter((c) => c.type !== condition.type);
    const resourceVersion = String(Number(node.metadata.resourceVersion ?? '0') + 1);
    this.nodes.set(name, { ...node, metadata: { ...node.metadata, resourceVersion }, status: { ...node.status, conditions: [...others, { ...condition }] } });
    return Promise.resolve(resourceVersion);
  }
  async createEvent(event: ClusterEvent): Promise<void> {
    this.check('createEvent');
    if (event.id !== undefined && this.events.some((e) => e.id === event.id)) return Promise.resolve();
    this.write(`event ${event.reason}`);
    this.events.push(event);
    return Promise.resolve();
  }
  async getSecret(namespace: string, name: string): Promise<{ data: Record<string, string>; annotations: Record<string, string> } | undefined> {
    return Promise.resolve(structuredClone(this.secrets.get(`${namespace}/${name}`)));
  }
  async createSecret(namespace: string, name: string, data: Record<string, string>, meta: { annotations?: Record<string, string> } = {}): Promise<boolean> {
    if (this.secrets.has(`${namespace}/${name}`)) return false;
    this.write(`create secret/${name}`);
    this.secrets.set(`${namespace}/${name}`, { data: { ...data }, annotations: { ...(meta.annotations ?? {}) }, resourceVersion: String(++this.secretVersion) });
    return Promise.resolve(true);
  }
  async applySecret(namespace: string, name: string, data: Record<string, string>, meta: { annotations?: Record<string, string> } = {}): Promise<void> {
    this.check('applySecret');
    this.write(`apply secret/${name}`);
    this.secrets.set(`${namespace}/${name}`, { data: { ...data }, annotations: { ...(meta.annotations ?? {}) }, resourceVersion: String(++this.secretVersion) });
    return Promise.resolve();
  }
  async deleteSecret(namespace: string, name: string, resourceVersion?: string): Promise<boolean> {
    this.check('deleteSecret');
    if (resourceVersion !== undefined && this.secrets.get(`${namespace}/${name}`)?.resourceVersion !== resourceVersion) return Promise.resolve(false);
    this.write(`delete secret/${name}`);
    return Promise.resolve(this.secrets.delete(`${namespace}/${name}`));
  }
  async getConfigMap(namespace: string, name: string): Promise<ConfigMapView | undefined> {
    const data = this.configMaps.get(`${namespace}/${name}`);
    return Promise.resolve(data === undefined ? undefined : { metadata: { name, namespace }, data: { ...data } });
  }
  async applyConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    this.check('applyConfigMap');
    this.write(`apply configmap/${name}`);
    this.configMaps.set(`${namespace}/${name}`, { ...data });
    return Promise.resolve();
  }
  async mergeConfigMapData(namespace: string, name: string, data: Record<string, string | null>): Promise<ConfigMapView> {
    this.check('mergeConfigMapData');
    this.write(`patch configmap/${name}`);
    const merged = { ...(this.configMaps.get(`${namespace}/${name}`) ?? {}) };
    for (const [k, v] of Object.entries(data)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    this.configMaps.set(`${namespace}/${name}`, merged);
    return Promise.resolve({ metadata: { name, namespace, resourceVersion: String(++this.configMapVersion) }, data: { ...merged } });
  }
}
