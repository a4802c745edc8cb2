import type { CsrView } from './csr.js';
import type { JoinRequestView, NodeJoinRequestStatus } from './join-request.js';

/** An approval or a denial written to a CSR's approval subresource. */
export interface CsrVerdict {
  readonly verdict: 'Approve' | 'Deny';
  readonly reason: string;
  readonly message: string;
}

/**
 * What the kubelet identity controller needs from the API server (kube/kubelet-identity-kube.ts
 * implements it; tests fake it). Every method throws only KubeError.
 */
export interface KubeletIdentityApi {
  /** Starts watching CSRs and NodeJoinRequests; each add or update is handed over. */
  start(handlers: { csr(csr: CsrView): void; joinRequest(req: JoinRequestView): void }): Promise<void>;
  stop(): Promise<void>;
  /** CSRs from the watch cache that are still pending. */
  pendingCsrs(): CsrView[];
  /** NodeJoinRequests from the watch cache that have no answer yet. */
  unansweredJoinRequests(): JoinRequestView[];
  /** A live read. */
  getJoinRequest(name: string): Promise<JoinRequestView | undefined>;
  /** Replaces the status if the object is still at `req.resourceVersion`; resolves false on a conflict. */
  replaceJoinRequestStatus(req: JoinRequestView, status: NodeJoinRequestStatus): Promise<boolean>;
  /** Adds the Approved or Denied condition through the approval subresource; false if the CSR changed or is gone. */
  decideCsr(csr: CsrView, verdict: CsrVerdict): Promise<boolean>;
}
