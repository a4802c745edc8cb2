import {
  CertificatesV1Api, CustomObjectsApi, makeInformer,
  type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache, type V1CertificateSigningRequest,
} from '@kubernetes/client-node';
import type { JoinIdentity } from '@nodeward/attest';
import { csrViewFrom, type CsrView } from '../kubelet-identity/csr.js';
import type { JoinRequestView, NodeJoinRequestStatus } from '../kubelet-identity/join-request.js';
import type { CsrVerdict, KubeletIdentityApi } from '../kubelet-identity/kubelet-identity-api.js';
import { GROUP, VERSION } from '../status/resources.js';
import { isConflict, isNotFound, kubeCall } from './errors.js';

const NJR = { group: GROUP, version: VERSION, plural: 'nodejoinrequests' };

interface NjrObject {
  metadata?: { name?: string; uid?: string; resourceVersion?: string };
  spec?: JoinIdentity;
  status?: NodeJoinRequestStatus;
}

/** The NodeJoinRequest as the operator reads it (an object without spec is shown with an empty one: it fails verification). */
export function joinRequestViewFrom(o: NjrObject): JoinRequestView {
  return {
    name: o.metadata?.name ?? '',
    uid: o.metadata?.uid ?? '',
    ...(o.metadata?.resourceVersion === undefined ? {} : { resourceVersion: o.metadata.resourceVersion }),
    spec: o.spec ?? { nodeName: '', ekCertificates: [], ekPublic: '', akPublic: '' },
    ...(o.status === undefined ? {} : { status: o.status }),
  };
}

/** KubeletIdentityApi over @kubernetes/client-node: two informers and the approval/status subresources. */
export class KubeKubeletIdentityApi implements KubeletIdentityApi {
  private readonly certificates: CertificatesV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly csrInformer: Informer<V1CertificateSigningRequest & KubernetesObject> & ObjectCache<V1CertificateSigningRequest & KubernetesObject>;
  private readonly njrInformer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(kc: KubeConfig, private readonly onError: (what: string, e: unknown) => void = () => undefined) {
    this.certificates = kc.makeApiClient(CertificatesV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.csrInformer = makeInformer(kc, '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      () => this.certificates.listCertificateSigningRequest() as Promise<KubernetesListObject<V1CertificateSigningRequest & KubernetesObject>>);
    this.njrInformer = makeInformer(kc, `/apis/${GROUP}/${VERSION}/nodejoinrequests`,
      () => this.custom.listClusterCustomObject(NJR) as Promise<KubernetesListObject<KubernetesObject>>);
  }

  async start(handlers: { csr(csr: CsrView): void; joinRequest(req: JoinRequestView): void }): Promise<void> {
    this.stopped = false;
    const onCsr = (o: V1CertificateSigningRequest): void => handlers.csr(csrViewFrom(o));
    const onNjr = (o: KubernetesObject): void => handlers.joinRequest(joinRequestViewFrom(o));
    for (const verb of ['add', 'update'] as const) {
      this.csrInformer.on(verb, onCsr);
      this.njrInformer.on(verb, onNjr);
    }
    this.restartOnError(this.csrInformer, 'certificatesigningrequests');
    this.restartOnError(this.njrInformer, 'nodejoinrequests');
    // A failed first list (the CRD not installed yet, RBAC not granted yet) is retried, never fatal.
    await Promise.all([this.startOrRetry(this.csrInformer, 'certificatesigningrequests'), this.startOrRetry(this.njrInformer, 'nodejoinrequests')]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([this.csrInformer.stop(), this.njrInformer.stop()]);
  }

  pendingCsrs(): CsrView[] {
    return this.csrInformer.list().map(csrViewFrom).filter((c) => c.state === 'Pending');
  }

  unansweredJoinRequests(): JoinRequestView[] {
    return this.njrInformer.list().map((o) => joinRequestViewFrom(o as NjrObject)).filter((r) => r.status?.phase === undefined);
  }

  async getJoinRequest(name: string): Promise<JoinRequestView | undefined> {
    try {
      return joinRequestViewFrom(await kubeCall(() => this.custom.getClusterCustomObject({ ...NJR, name })) as NjrObject);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async replaceJoinRequestStatus(req: JoinRequestView, status: NodeJoinRequestStatus): Promise<boolean> {
    const body = {
      apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeJoinRequest',
      metadata: { name: req.name, ...(req.resourceVersion === undefined ? {} : { resourceVersion: req.resourceVersion }) },
      spec: req.spec, status,
    };
    try {
      await kubeCall(() => this.custom.replaceClusterCustomObjectStatus({ ...NJR, name: req.name, body }));
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }

  async decideCsr(csr: CsrView, verdict: CsrVerdict): Promise<boolean> {
    try {
      const current = await kubeCall(() => this.certificates.readCertificateSigningRequest({ name: csr.name }));
      if (current.metadata?.uid !== csr.uid || csrViewFrom(current).state !== 'Pending') return false;
      const type = verdict.verdict === 'Approve' ? 'Approved' : 'Denied';
      const now = new Date();
      current.status = {
        ...current.status,
        conditions: [...(current.status?.conditions ?? []), { type, status: 'True', reason: verdict.reason, message: verdict.message, lastUpdateTime: now, lastTransitionTime: now }],
      };
      await kubeCall(() => this.certificates.replaceCertificateSigningRequestApproval({ name: csr.name, body: current }));
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }

  private restartOnError(informer: Informer<KubernetesObject>, what: string): void {
    informer.on('error', (e: unknown) => {
      if (this.stopped) return;
      this.onError(what, e);
      this.retryLater(informer, what);
    });
  }

  private async startOrRetry(informer: Informer<KubernetesObject>, what: string): Promise<void> {
    try {
      await informer.start();
    } catch (e) {
      this.onError(what, e);
      this.retryLater(informer, what);
    }
  }

  private retryLater(informer: Informer<KubernetesObject>, what: string): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) void this.startOrRetry(informer, what);
    }, 2000);
    this.timers.add(t);
  }
}
