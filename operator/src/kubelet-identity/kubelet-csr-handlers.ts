import { freshnessWindowMs } from '../decide/freshness.js';
import type { Cluster, ClusterEvent } from '../kube/cluster.js';
import { metrics } from '../metrics.js';
import { parseDurationMs } from '../reconcile/duration.js';
import type { NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { routeCsr, type CsrDecision, type CsrHandlers, type CsrRoute } from './csr-router.js';
import { NODE_USER_PREFIX, parseCsrRequest, type CsrView } from './csr.js';
import { decideClientRenewal, decideServing, type KubeletCsrContext } from './decide-kubelet-csr.js';

/** The policy's kubeletCertificates.expirationSeconds when it says nothing (the CRD's default). */
export const DEFAULT_KUBELET_CERT_SECONDS = 3600;

/** Where the renewal and serving handlers read what they decide from (the operator's caches). */
export interface KubeletCsrSources {
  nodeAttestation(nodeName: string): NodeAttestation | undefined;
  policy(name: string): NodeAttestationPolicy | undefined;
  node(name: string): NodeView | undefined;
  heartbeatMs: number;
  defaultIntervalMs: number;
  signerDurationSeconds: number;
  now?: () => Date;
}

/**
 * The CSR router's handlers for a kubelet's own CSRs: read the node's NodeAttestation and policy from
 * the caches, parse the request (its self-signature checked), and decide (pure, decide-kubelet-csr.ts).
 * A NodeAttestation whose policy is gone counts as no attestation.
 */
export function makeKubeletCsrHandlers(s: KubeletCsrSources): Pick<CsrHandlers, 'nodeClientRenewal' | 'kubeletServing'> {
  const context = (nodeName: string): KubeletCsrContext => {
    const na = s.nodeAttestation(nodeName);
    const policy = na === undefined ? undefined : s.policy(na.spec.policyName);
    const intervalMs = parseDurationMs(policy?.spec.interval) ?? s.defaultIntervalMs;
    return {
      attestation: policy === undefined ? undefined : (na?.status ?? {}),
      freshnessWindowMs: freshnessWindowMs(intervalMs, s.heartbeatMs),
      maxExpirationSeconds: policy?.spec.kubeletCertificates?.expirationSeconds ?? DEFAULT_KUBELET_CERT_SECONDS,
      signerDurationSeconds: s.signerDurationSeconds,
      now: s.now?.() ?? new Date(),
    };
  };
  return {
    nodeClientRenewal: async (csr, route) => decideClientRenewal(csr, await parseCsrRequest(csr.requestPem), route.requesterNode, context(route.requesterNode)),
    kubeletServing: async (csr, route) => decideServing(csr, await parseCsrRequest(csr.requestPem), route.requesterNode,
      { ...context(route.requesterNode), nodeAddresses: s.node(route.requesterNode)?.status?.addresses ?? [] }),
  };
}

/**
 * The Events announcing a decision written to a kubelet CSR, on the node it concerns (the requesting
 * node, or for a join the name its CN asks for) and its NodeAttestation: KubeletCertificateApproved
 * (Normal) or KubeletCertificateDenied (Warning, with the reason). Id'd by the CSR's uid, so posting
 * them again after a crash is a no-op. Undefined for a CSR no Event is about. Pure.
 */
export function kubeletCsrEvent(csr: Pick<CsrView, 'name' | 'uid' | 'signerName' | 'username'>, route: CsrRoute, decision: CsrDecision, cnNode: string | undefined): ClusterEvent | undefined {
  if (decision.verdict !== 'Approve' && decision.verdict !== 'Deny') return undefined;
  const node = routeNode(route) ?? cnNode;
  if (node === undefined || node === '') return undefined;
  const approved = decision.verdict === 'Approve';
  return {
    type: approved ? 'Normal' : 'Warning',
    reason: approved ? 'KubeletCertificateApproved' : 'KubeletCertificateDenied',
    message: `CSR ${csr.name} (${csr.signerName}) from ${csr.username}: ${decision.reason}: ${decision.message}`,
    involved: [{ kind: 'Node', name: node }, { kind: 'NodeAttestation', name: node }],
    id: `csr-${csr.uid.toLowerCase().replace(/[^a-z0-9-]/g, '')}`,
  };
}

function routeNode(route: CsrRoute): string | undefined {
  switch (route.kind) {
    case 'NodeClientRenewal':
    case 'KubeletServing':
      return route.requesterNode;
    case 'BootstrapJoin':
    case 'ForeignRequester':
    case 'NotOurs':
      return undefined;
  }
}

/** The node a CSR's subject names (CN=system:node:<name>), for announcing a join's decision. */
export function cnNodeOf(commonName: string | undefined): string | undefined {
  return commonName?.startsWith(NODE_USER_PREFIX) === true ? commonName.slice(NODE_USER_PREFIX.length) : undefined;
}

/**
 * Counts a decision written to a kubelet CSR (nodeward_kubelet_csr_decisions_total{route,verdict,reason})
 * and posts its Events. The CSR controller calls it once the approval subresource took the decision.
 * For a join the node is the one the request's subject names (parsed again: bounded, never throws).
 */
export async function announceKubeletCsrDecision(cluster: Pick<Cluster, 'createEvent'>, csr: CsrView, decision: CsrDecision): Promise<void> {
  if (decision.verdict !== 'Approve' && decision.verdict !== 'Deny') return;
  const route = routeCsr({ ...csr, state: 'Pending' });
  metrics.kubeletCsrDecisions.inc({ route: route.kind, verdict: decision.verdict, reason: decision.reason });
  const request = route.kind === 'BootstrapJoin' ? await parseCsrRequest(csr.requestPem) : undefined;
  const event = kubeletCsrEvent(csr, route, decision, request?.ok === true ? cnNodeOf(request.request.commonName) : undefined);
  if (event !== undefined) await cluster.createEvent(event);
}
