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
  /** Another kubelet-signer request (neither a bootstrap token nor a node): denied, never left for a human to wave through. */
  | { readonly kind: 'ForeignRequester' }
  /** Not a kubelet signer, or already decided: nothing to do. */
  | { readonly kind: 'NotOurs' };

export type CsrRouteKind = CsrRoute['kind'];

/** The route of a CSR. Pure. */
export function routeCsr(csr: Pick<CsrView, 'signerName' | 'username' | 'groups' | 'state'>): CsrRoute {
  if (csr.state !== 'Pending') return { kind: 'NotOurs' };
  const node = csr.username.startsWith(NODE_USER_PREFIX) && csr.groups.includes(NODES_GROUP)
    ? csr.username.slice(NODE_USER_PREFIX.length) : undefined;
  if (csr.signerName === KUBELET_CLIENT_SIGNER) {
    if (csr.username.startsWith(BOOTSTRAP_USER_PREFIX) && csr.groups.includes(BOOTSTRAPPERS_GROUP)) {
      return { kind: 'BootstrapJoin', tokenId: csr.username.slice(BOOTSTRAP_USER_PREFIX.length) };
    }
    return node === undefined || node === '' ? { kind: 'ForeignRequester' } : { kind: 'NodeClientRenewal', requesterNode: node };
  }
  if (csr.signerName === KUBELET_SERVING_SIGNER) {
    return node === undefined || node === '' ? { kind: 'ForeignRequester' } : { kind: 'KubeletServing', requesterNode: node };
  }
  return { kind: 'NotOurs' };
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
        message: `Nodeward: ${csr.signerName} certificates are only issued to bootstrap tokens (attested join) and to nodes; ${csr.username} is neither`,
      };
    case 'NotOurs':
      return { verdict: 'Ignore' };
  }
}
