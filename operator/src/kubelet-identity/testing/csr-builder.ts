import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { KUBELET_CLIENT_SIGNER, type CsrView } from '../csr.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A key pair and a PEM PKCS#10 request signed with it. */
export interface BuiltRequest {
  readonly pem: string;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly spkiDer: Uint8Array;
}

/** A PEM request for `subject` (default a kubelet's for `node-a`), with optional SANs. */
export async function buildCsrRequest(opts: { subject?: string; sans?: x509.JsonGeneralNames; keys?: webcrypto.CryptoKeyPair } = {}): Promise<BuiltRequest> {
  const keys = opts.keys ?? await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const extensions = opts.sans === undefined ? [] : [new x509.SubjectAlternativeNameExtension(opts.sans)];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: opts.subject ?? 'CN=system:node:node-a, O=system:nodes', keys, signingAlgorithm: ecdsa, extensions,
  });
  const spkiDer = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return { pem: csr.toString('pem'), keys, spkiDer };
}

/** A pending kubelet client CSR from a bootstrap token; fields overridable. */
export function csrView(overrides: Partial<CsrView> = {}): CsrView {
  return {
    name: 'csr-1',
    uid: 'uid-1',
    signerName: KUBELET_CLIENT_SIGNER,
    username: 'system:bootstrap:abcdef',
    groups: ['system:bootstrappers', 'system:bootstrappers:nodeward', 'system:authenticated'],
    usages: ['digital signature', 'client auth'],
    requestPem: '',
    annotations: {},
    state: 'Pending',
    ...overrides,
  };
}
