import type { Cluster } from '../kube/cluster.js';
import { resourceVersionAtLeast } from '../kube/resource-version.js';
import type { ConfigMapView, NodeAttestationStatus } from '../status/resources.js';

/**
 * The ConfigMap the ValidatingAdmissionPolicy `nodeward-kubelet-quarantine` (config/quarantine) takes
 * as its parameter: one key per quarantined node, its value the failure named in the denial message.
 */
export const QUARANTINE_CONFIGMAP = 'nodeward-kubelet-quarantine';
/** The failure text kept per node: a ConfigMap holds 1 MiB, so a few thousand quarantined nodes fit. */
export const QUARANTINE_REASON_MAX = 200;

/**
 * What a quarantined node's denials name: its last failure (id and detail), or its phase when no
 * failure is recorded (an Unreachable node whose policy revokes on unreachable). Pure.
 */
export function quarantineReason(status: Pick<NodeAttestationStatus, 'phase' | 'lastFailure'> | undefined): string {
  const f = status?.lastFailure;
  const text = f === undefined ? `phase ${status?.phase ?? 'Pending'}` : `${f.reason}${f.detail === undefined || f.detail === '' ? '' : `: ${f.detail}`}`;
  return text.length <= QUARANTINE_REASON_MAX ? text : `${text.slice(0, QUARANTINE_REASON_MAX - 1)}…`;
}

/**
 * Adds and removes nodes on the quarantine list, one merge patch of one key each, and only when the
 * list differs: the freshest of the informer's copy and this replica's own last write (by
 * resourceVersion) says what the list holds, so a lift right after an apply is never skipped because
 * the informer has not caught up, and converging a node that is not quarantined costs no request.
 */
export class KubeletQuarantine {
  private ownWrite: ConfigMapView | undefined;

  constructor(
    private readonly cluster: Pick<Cluster, 'mergeConfigMapData'>,
    private readonly o: { namespace: string; cached: () => ConfigMapView | undefined },
  ) {}

  /** Quarantine `nodeName` with `reason`; resolves true when the list changed. */
  async apply(nodeName: string, reason: string): Promise<boolean> {
    if (this.list()[nodeName] === reason) return false;
    await this.write({ [nodeName]: reason });
    return true;
  }

  /** Lift `nodeName`'s quarantine; resolves true when it was on the list. */
  async lift(nodeName: string): Promise<boolean> {
    if (!(nodeName in this.list())) return false;
    await this.write({ [nodeName]: null });
    return true;
  }

  private async write(data: Record<string, string | null>): Promise<void> {
    this.ownWrite = undefined;
    this.ownWrite = await this.cluster.mergeConfigMapData(this.o.namespace, QUARANTINE_CONFIGMAP, data);
  }

  private list(): Readonly<Record<string, string>> {
    const cached = this.o.cached();
    const own = this.ownWrite;
    if (own === undefined) return cached?.data ?? {};
    if (cached !== undefined && resourceVersionAtLeast(cached.metadata.resourceVersion, own.metadata.resourceVersion ?? '')) {
      this.ownWrite = undefined;
      return cached.data ?? {};
    }
    return own.data ?? {};
  }
}
