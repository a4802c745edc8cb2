import {
  BOOTSTRAP_USER_PREFIX, BOOTSTRAPPERS_GROUP, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, NODE_USER_PREFIX, NODES_GROUP, type CsrView,
} from './csr.js';

/**
 * Which decision a CSR needs, from its signer and its authenticated requester (set by the API server,
 * so trusted). Nodeward decides every kubelet CSR; any other CSR is left to whoever else approves it.
 */
export type CsrRoute =
  /** A bootstrap token asks for a kubelet client certificate: an attested join. */
  | { readonly kind: 'BootstrapJoin'; readonly tokenId: string }
  /** A kubelet renews its client certificate with the one it holds. */
  | { readonly kind: 'NodeClientRenewal'; readonly requesterNode: string }
  /** A kubelet asks for a serving certificate. */
  | { readonly kind: 'KubeletServing'; readonly requesterNode: string }
  /**
   * A kubelet-signer request from neither a bootstrap token nor a node (or a bootstrap token asking for a
   * serving certificate): denied, never left pending for a human to wave through.
   */
  | { readonly kind: 'ForeignRequester' }
  /** Not a kubelet signer, or already decided: nothing to do. */
  | { readonly kind: 'NotOurs' };

export type CsrRouteKind = CsrRoute['kind'];

/** The route of a CSR. Pure. */
export function routeCsr(csr: Pick<CsrView, 'signerName' | 'username' | 'groups' | 'state'>): CsrRoute {
  if (csr.state !== 'Pending') return { kind: 'NotOurs' };
  const node = requesterNode(csr);
  if (csr.signerName === KUBELET_CLIENT_SIGNER) {
    if (isBootstrapToken(csr)) return { kind: 'BootstrapJoin', tokenId: csr.username.slice(BOOTSTRAP_USER_PREFIX.length) };
    return node === undefined ? { kind: 'ForeignRequester' } : { kind: 'NodeClientRenewal', requesterNode: node };
  }
  if (csr.signerName === KUBELET_SERVING_SIGNER) {
    return node === undefined ? { kind: 'ForeignRequester' } : { kind: 'KubeletServing', requesterNode: node };
  }
  // Other signers are not Nodeward's to decide: its RBAC may approve (and deny) only the two kubelet
  // signers, never kube-apiserver-client, whose approval would mint any user identity.
  return { kind: 'NotOurs' };
}

/** The node a requester authenticated as (`system:node:<name>` in `system:nodes`), if it is one. */
function requesterNode(csr: Pick<CsrView, 'username' | 'groups'>): string | undefined {
  if (!csr.username.startsWith(NODE_USER_PREFIX) || !csr.groups.includes(NODES_GROUP)) return undefined;
  const name = csr.username.slice(NODE_USER_PREFIX.length);
  return name === '' ? undefined : name;
}

function isBootstrapToken(csr: Pick<CsrView, 'username' | 'groups'>): boolean {
  return csr.username.startsWith(BOOTSTRAP_USER_PREFIX) && csr.groups.includes(BOOTSTRAPPERS_GROUP);
}

/** What to do with a CSR: approve or deny (reason CamelCase, message for humans), or leave it for now. */
export type CsrDecision =
  | { readonly verdict: 'Approve'; readonly reason: string; readonly message: string }
  | { readonly verdict: 'Deny'; readonly reason: string; readonly message: string }
  /** Nothing yet (e.g. the proof it names is still being prepared); looked at again on the next change. */
  | { readonly verdict: 'Wait'; readonly message: string }
  | { readonly verdict: 'Ignore' };

/** One handler per route that needs a decision; the kubelet identity features plug in here. */
export interface CsrHandlers {
  bootstrapJoin(csr: CsrView, route: Extract<CsrRoute, { kind: 'BootstrapJoin' }>): Promise<CsrDecision>;
  nodeClientRenewal(csr: CsrView, route: Extract<CsrRoute, { kind: 'NodeClientRenewal' }>): Promise<CsrDecision>;
  kubeletServing(csr: CsrView, route: Extract<CsrRoute, { kind: 'KubeletServing' }>): Promise<CsrDecision>;
}

/** Condition reasons Nodeward writes on CSRs. */
export const CSR_REASON = {
  foreignRequester: 'NodewardForeignRequester',
} as const;

/** The decision for a CSR: its route's handler, through a switch the compiler checks for exhaustiveness. */
export async function decideCsr(csr: CsrView, handlers: CsrHandlers): Promise<CsrDecision> {
  const route = routeCsr(csr);
  switch (route.kind) {
    case 'BootstrapJoin':
      return handlers.bootstrapJoin(csr, route);
    case 'NodeClientRenewal':
      return handlers.nodeClientRenewal(csr, route);
    case 'KubeletServing':
      return handlers.kubeletServing(csr, route);
    case 'ForeignRequester':
      return {
        verdict: 'Deny',
        reason: CSR_REASON.foreignRequester,
        message: `Nodeward: ${csr.username} may not ask ${csr.signerName} for a certificate (kubelet signers serve bootstrap tokens with a TPM proof and nodes; bootstrap tokens get nothing else)`,
      };
    case 'NotOurs':
      return { verdict: 'Ignore' };
  }
}
