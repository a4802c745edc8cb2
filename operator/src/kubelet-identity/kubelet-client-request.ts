import type { Failure } from '@nodeward/attest';
import { NODE_USER_PREFIX, NODES_GROUP, type CsrRequest, type CsrView } from './csr.js';
import { joinFailure } from './join-failure.js';

/** The usages a kubelet client CSR may ask for: client auth, with the key usages kubelet adds. */
export const KUBELET_CLIENT_USAGES: readonly string[] = ['client auth', 'digital signature', 'key encipherment'];

export type KubeletClientCheck = { ok: true; nodeName: string } | { ok: false; failures: Failure[] };

/**
 * A kubelet client certificate request as kubelet makes it, and nothing more: subject exactly
 * `CN=system:node:<name>` and `O=system:nodes` (in any order), no SANs, usages within {@link KUBELET_CLIENT_USAGES} and
 * including client auth, an ECDSA P-256/P-384 or RSA >= 2048 key. Every deviation is listed. Pure.
 */
export function checkKubeletClientRequest(csr: Pick<CsrView, 'usages'>, request: CsrRequest): KubeletClientCheck {
  const failures: Failure[] = [];
  const cn = request.commonName ?? '';
  const nodeName = cn.startsWith(NODE_USER_PREFIX) ? cn.slice(NODE_USER_PREFIX.length) : '';
  // In either order: Go (kubelet) writes O before CN.
  const expected = [`CN=${NODE_USER_PREFIX}${nodeName}`, `O=${NODES_GROUP}`];
  if (nodeName === '' || request.subject.length !== 2 || !expected.every((e) => request.subject.includes(e))) {
    failures.push(joinFailure('CsrSubject', `the subject must be exactly CN=system:node:<name>, O=system:nodes; got ${request.subject.join(', ').slice(0, 300)}`));
  }
  const extra = csr.usages.filter((u) => !KUBELET_CLIENT_USAGES.includes(u));
  if (extra.length > 0 || !csr.usages.includes('client auth')) {
    failures.push(joinFailure('CsrUsages', `usages must include client auth and be within ${KUBELET_CLIENT_USAGES.join(', ')}; got ${csr.usages.join(', ').slice(0, 300)}`));
  }
  const names = [...request.dnsNames, ...request.ipAddresses, ...request.otherNames];
  if (names.length > 0) failures.push(joinFailure('CsrExtraNames', `a kubelet client certificate has no subject alternative names; got ${names.join(', ').slice(0, 300)}`));
  if (request.keyAlgorithm === 'other') failures.push(joinFailure('CsrKeyAlgorithm', 'the key must be ECDSA P-256/P-384 or RSA of at least 2048 bits'));
  return failures.length > 0 ? { ok: false, failures } : { ok: true, nodeName };
}
