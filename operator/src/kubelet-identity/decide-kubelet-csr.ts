import type { Failure } from '@nodeward/attest';
import type { NodeAttestationStatus, NodeView } from '../status/resources.js';
import type { CsrDecision } from './csr-router.js';
import { NODE_USER_PREFIX, NODES_GROUP, type CsrRequestResult, type CsrView } from './csr.js';
import { joinFailure } from './join-failure.js';
import { checkKubeletClientRequest } from './kubelet-client-request.js';
import { KUBELET_CSR_FAILURE_IDS, kubeletCsrFailure, type KubeletCsrFailureKind } from './kubelet-csr-failure.js';

/** What Nodeward knows about the node asking, for a decision on its own CSR. */
export interface KubeletCsrContext {
  /** The node's NodeAttestation status; undefined when no policy attests the node. */
  readonly attestation: Pick<NodeAttestationStatus, 'phase' | 'lastSuccessTime' | 'lastFailure'> | undefined;
  /** How old the last passing round may be (freshnessWindowMs of the policy's interval). */
  readonly freshnessWindowMs: number;
  /** The longest certificate the policy allows (kubeletCertificates.expirationSeconds). */
  readonly maxExpirationSeconds: number;
  /** What the signer issues to a CSR that asks for no lifetime (kube-controller-manager's --cluster-signing-duration). */
  readonly signerDurationSeconds: number;
  readonly now: Date;
}

export interface ServingContext extends KubeletCsrContext {
  /** The Node's status.addresses (the kubelet's own word: see the README). */
  readonly nodeAddresses: NonNullable<NonNullable<NodeView['status']>['addresses']>;
}

/** The CSR condition reasons Nodeward writes on kubelet renewals and serving CSRs. */
export const KUBELET_CSR_REASON = {
  approved: 'NodewardNodeTrusted',
  /** A request that is not what a kubelet asks for (shared with joins: `join.csr_*`). */
  malformed: 'NodewardRequestMalformed',
  ...Object.fromEntries(Object.keys(KUBELET_CSR_FAILURE_IDS).map((k) => [k, `Nodeward${k}`])) as Record<KubeletCsrFailureKind, `Nodeward${KubeletCsrFailureKind}`>,
} as const;

const SERVING_USAGES: readonly string[] = ['server auth', 'digital signature', 'key encipherment'];
const DNS_ADDRESS_TYPES: ReadonlySet<string> = new Set(['Hostname', 'InternalDNS', 'ExternalDNS']);
const IP_ADDRESS_TYPES: ReadonlySet<string> = new Set(['InternalIP', 'ExternalIP']);

/**
 * A kubelet renewing its client certificate (`system:node:<requester>`, signer
 * kube-apiserver-client-kubelet): approved only for its own name, in the shape a kubelet asks for,
 * within the policy's lifetime, while its node is Trusted with a passing round inside the freshness
 * window. Every reason to deny is listed in the message. Pure.
 */
export function decideClientRenewal(csr: Pick<CsrView, 'usages' | 'expirationSeconds'>, request: CsrRequestResult, requesterNode: string, ctx: KubeletCsrContext): CsrDecision {
  if (!request.ok) return deny(KUBELET_CSR_REASON.malformed, [joinFailure('CsrMalformed', request.reason)]);
  const shape = checkKubeletClientRequest(csr, request.request);
  const failures: Failure[] = shape.ok ? [] : [...shape.failures];
  if (shape.ok && shape.nodeName !== requesterNode) {
    failures.unshift(kubeletCsrFailure('OtherNode', `${NODE_USER_PREFIX}${requesterNode} asks for a certificate naming ${NODE_USER_PREFIX}${shape.nodeName}`));
  }
  failures.push(...lifetimeFailures(csr, ctx), ...trustFailures(requesterNode, ctx));
  return failures.length === 0 ? approve(requesterNode, csr, ctx) : deny(reasonOf(failures), failures);
}

/**
 * A kubelet asking for a serving certificate (signer kubelet-serving): approved only for its own
 * name, with server-auth usages, DNS names and IP addresses all among its Node's addresses, within
 * the policy's lifetime, while its node is Trusted with a fresh passing round. Pure.
 */
export function decideServing(csr: Pick<CsrView, 'usages' | 'expirationSeconds'>, request: CsrRequestResult, requesterNode: string, ctx: ServingContext): CsrDecision {
  if (!request.ok) return deny(KUBELET_CSR_REASON.malformed, [joinFailure('CsrMalformed', request.reason)]);
  const r = request.request;
  const failures: Failure[] = [];
  const expected = [`CN=${NODE_USER_PREFIX}${requesterNode}`, `O=${NODES_GROUP}`];
  if (r.subject.length !== 2 || !expected.every((e) => r.subject.includes(e))) {
    failures.push(kubeletCsrFailure(r.commonName !== undefined && r.commonName !== `${NODE_USER_PREFIX}${requesterNode}` ? 'OtherNode' : 'ServingSubject',
      `the subject must be exactly ${expected.join(', ')}; got ${r.subject.join(', ').slice(0, 300)}`));
  }
  if (!csr.usages.includes('server auth') || csr.usages.some((u) => !SERVING_USAGES.includes(u))) {
    failures.push(kubeletCsrFailure('ServingUsages', `usages must include server auth and be within ${SERVING_USAGES.join(', ')}; got ${csr.usages.join(', ').slice(0, 300)}`));
  }
  if (r.keyAlgorithm === 'other') failures.push(joinFailure('CsrKeyAlgorithm', 'the key must be ECDSA P-256/P-384 or RSA of at least 2048 bits'));
  failures.push(...servingNameFailures(r, ctx.nodeAddresses), ...lifetimeFailures(csr, ctx), ...trustFailures(requesterNode, ctx));
  return failures.length === 0 ? approve(requesterNode, csr, ctx) : deny(reasonOf(failures), failures);
}

function servingNameFailures(r: { dnsNames: readonly string[]; ipAddresses: readonly string[]; otherNames: readonly string[] }, addresses: ServingContext['nodeAddresses']): Failure[] {
  if (r.dnsNames.length + r.ipAddresses.length === 0) return [kubeletCsrFailure('ServingNoNames', 'a serving certificate must name at least one of the Node\'s DNS names or IP addresses')];
  const dns = new Set(addresses.filter((a) => DNS_ADDRESS_TYPES.has(a.type)).map((a) => a.address.toLowerCase()));
  const ips = new Set(addresses.filter((a) => IP_ADDRESS_TYPES.has(a.type)).map((a) => a.address.toLowerCase()));
  const stray = [
    ...r.dnsNames.filter((n) => !dns.has(n.toLowerCase())).map((n) => `DNS:${n}`),
    ...r.ipAddresses.filter((n) => !ips.has(n.toLowerCase())).map((n) => `IP:${n}`),
    ...r.otherNames,
  ];
  if (stray.length === 0) return [];
  const known = addresses.map((a) => `${a.type}=${a.address}`).join(', ');
  return [kubeletCsrFailure('ServingNameNotNodeAddress', `${stray.join(', ').slice(0, 300)} not among the Node's addresses (${known.slice(0, 300) || 'none'})`)];
}

/**
 * The certificate's lifetime, at most the policy's: what the CSR asks for, or without an ask the
 * signer's duration. An ask over the policy is denied even though the signer may cap it: the signer's
 * setting is only what Nodeward was told.
 */
function lifetimeFailures(csr: Pick<CsrView, 'expirationSeconds'>, ctx: KubeletCsrContext): Failure[] {
  if (lifetimeOf(csr, ctx) <= ctx.maxExpirationSeconds) return [];
  const asked = csr.expirationSeconds === undefined
    ? `the CSR asks for no expirationSeconds, so the signer's ${ctx.signerDurationSeconds} s applies (NODEWARD_KUBELET_SIGNING_DURATION_S)`
    : `the CSR asks for expirationSeconds ${csr.expirationSeconds}`;
  return [kubeletCsrFailure('LifetimeTooLong', `${asked}, over the policy's kubeletCertificates.expirationSeconds ${ctx.maxExpirationSeconds}`)];
}

/** Trusted, with a passing round no older than the freshness window; anything else is a failure. */
function trustFailures(node: string, ctx: KubeletCsrContext): Failure[] {
  const a = ctx.attestation;
  if (a === undefined) return [kubeletCsrFailure('NotAttested', `no NodeAttestation for ${node}: no policy attests it`)];
  if (a.phase !== 'Trusted') {
    const why = a.lastFailure === undefined ? '' : ` (last failure ${a.lastFailure.reason})`;
    return [kubeletCsrFailure('NotTrusted', `node ${node} is ${a.phase ?? 'Pending'}${why}: certificates are issued only while it is Trusted`)];
  }
  const age = ctx.now.getTime() - Date.parse(a.lastSuccessTime ?? '');
  if (!(age <= ctx.freshnessWindowMs)) {
    return [kubeletCsrFailure('AttestationStale', `node ${node}'s last passing round (${a.lastSuccessTime ?? 'none'}) is older than the freshness window of ${Math.round(ctx.freshnessWindowMs / 1000)} s`)];
  }
  return [];
}

const lifetimeOf = (csr: Pick<CsrView, 'expirationSeconds'>, ctx: KubeletCsrContext): number => csr.expirationSeconds ?? ctx.signerDurationSeconds;

function approve(node: string, csr: Pick<CsrView, 'expirationSeconds'>, ctx: KubeletCsrContext): CsrDecision {
  const lifetime = Math.min(lifetimeOf(csr, ctx), ctx.signerDurationSeconds);
  return { verdict: 'Approve', reason: KUBELET_CSR_REASON.approved, message: `Nodeward: node ${node} is Trusted with a passing round within the freshness window; certificate valid at most ${lifetime} s` };
}

function deny(reason: string, failures: readonly Failure[]): CsrDecision {
  return { verdict: 'Deny', reason, message: `Nodeward: ${failures.map((f) => `${f.id}: ${f.message}`).join('; ')}`.slice(0, 2000) };
}

/** The condition reason: that of the first failure (an attestation failure when the shape was fine). */
function reasonOf(failures: readonly Failure[]): string {
  const first = failures[0]!;
  const kind = (Object.keys(KUBELET_CSR_FAILURE_IDS) as KubeletCsrFailureKind[]).find((k) => KUBELET_CSR_FAILURE_IDS[k] === first.id);
  return kind === undefined ? KUBELET_CSR_REASON.malformed : KUBELET_CSR_REASON[kind];
}
