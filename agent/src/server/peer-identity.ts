import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * The one client identity form the agent accepts: a certificate chained to the configured client CA
 * (checked by TLS) whose subject has exactly one CN, equal to the operator identity
 * (`nodeward-operator`). Subject alternative names are not looked at: a certificate from the same CA
 * for something else (a node's credential) that lists the identity as a DNS, URI or email SAN is
 * not the operator.
 */
export function subjectCommonName(cert: PeerCertificate | undefined): string | undefined {
  const cn: unknown = cert?.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

/** True when the (already chain-verified) client certificate's subject CN is the operator identity. */
export function isOperator(socket: TLSSocket, identity: string): boolean {
  return socket.authorized && subjectCommonName(socket.getPeerCertificate()) === identity;
}
