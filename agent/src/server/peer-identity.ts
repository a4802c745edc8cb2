import type { PeerCertificate, TLSSocket } from 'node:tls';

/** Names of the client certificate: subject CN(s) and SAN values (DNS, URI, IP, email). */
export function peerNames(cert: PeerCertificate | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const cn: string | string[] | undefined = cert.subject?.CN;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) {
    const idx = part.indexOf(':');
    if (idx > 0) names.push(part.slice(idx + 1));
  }
  return names;
}

/** True when the (already chain-verified) client certificate names the operator identity. */
export function isOperator(socket: TLSSocket, identity: string): boolean {
  return socket.authorized && peerNames(socket.getPeerCertificate()).includes(identity);
}
