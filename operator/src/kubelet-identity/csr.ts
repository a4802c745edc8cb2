import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The signer of kubelet client certificates (bootstrap and renewal). */
export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
/** The signer of kubelet serving certificates. */
export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
export const NODE_USER_PREFIX = 'system:node:';
export const NODES_GROUP = 'system:nodes';
export const BOOTSTRAP_USER_PREFIX = 'system:bootstrap:';
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';

/** Where a CSR stands: Pending until someone approves or denies it; Issued once the signer filled in the certificate. */
export type CsrState = 'Pending' | 'Approved' | 'Denied' | 'Failed' | 'Issued';

/**
 * A CertificateSigningRequest as the operator sees it. `username`/`groups` are set by the API server from
 * the authenticated requester (trusted); `request` and the annotations come from the requester and are
 * untrusted until parsed and verified.
 */
export interface CsrView {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion?: string;
  readonly signerName: string;
  readonly username: string;
  readonly groups: readonly string[];
  readonly usages: readonly string[];
  readonly expirationSeconds?: number;
  /** The PEM PKCS#10 request (decoded from spec.request's base64). */
  readonly requestPem: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: CsrState;
}

/** The CertificateSigningRequest fields {@link csrViewFrom} reads (structurally client-node's V1CertificateSigningRequest). */
export interface CsrObject {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec: { request: string; signerName: string; username?: string; groups?: string[]; usages?: string[]; expirationSeconds?: number };
  status?: { certificate?: string; conditions?: { type: string; status: string }[] };
}

/** A view of a CSR object as read from the API server. */
export function csrViewFrom(obj: CsrObject): CsrView {
  const meta = obj.metadata ?? {};
  const view: CsrView = {
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    signerName: obj.spec.signerName,
    username: obj.spec.username ?? '',
    groups: obj.spec.groups ?? [],
    usages: obj.spec.usages ?? [],
    requestPem: Buffer.from(obj.spec.request, 'base64').toString('latin1'),
    annotations: meta.annotations ?? {},
    state: csrState(obj.status),
  };
  return { ...view, ...optionalFields(meta.resourceVersion, obj.spec.expirationSeconds) };
}

function optionalFields(resourceVersion: string | undefined, expirationSeconds: number | undefined): Partial<CsrView> {
  return {
    ...(resourceVersion === undefined ? {} : { resourceVersion }),
    ...(expirationSeconds === undefined ? {} : { expirationSeconds }),
  };
}

function csrState(status: CsrObject['status']): CsrState {
  const isTrue = (type: string): boolean => status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
  if (isTrue('Denied')) return 'Denied';
  if (isTrue('Failed')) return 'Failed';
  if (status?.certificate !== undefined && status.certificate !== '') return 'Issued';
  return isTrue('Approved') ? 'Approved' : 'Pending';
}

/** What a PKCS#10 request asks for. Its self-signature is checked; everything else is a claim. */
export interface CsrRequest {
  /** Subject attributes in order, each `TYPE=value` (e.g. `CN=system:node:a`, `O=system:nodes`). */
  readonly subject: readonly string[];
  readonly commonName: string | undefined;
  readonly organizations: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** SANs other than DNS and IP (email, URI, …), which no kubelet certificate carries. */
  readonly otherNames: readonly string[];
  /** SubjectPublicKeyInfo DER of the key the certificate would certify. */
  readonly spkiDer: Uint8Array;
  readonly keyAlgorithm: 'ecdsa-p256' | 'ecdsa-p384' | 'rsa' | 'other';
}

export type CsrRequestResult = { readonly ok: true; readonly request: CsrRequest } | { readonly ok: false; readonly reason: string };

/** Larger PEM requests are refused unread (a kubelet's is under 1 KiB). */
export const MAX_CSR_PEM_BYTES = 16 * 1024;

/** Parses a PEM PKCS#10 request and checks its self-signature; never throws. */
export async function parseCsrRequest(pem: string): Promise<CsrRequestResult> {
  if (pem.length > MAX_CSR_PEM_BYTES) return { ok: false, reason: `the request is ${pem.length} bytes, over ${MAX_CSR_PEM_BYTES}` };
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    return { ok: false, reason: `the request is not a PEM PKCS#10 certificate request: ${e instanceof Error ? e.message : String(e)}` };
  }
  try {
    if (!(await csr.verify())) return { ok: false, reason: 'the request is not signed by the key it contains' };
    return { ok: true, request: describe(csr) };
  } catch (e) {
    return { ok: false, reason: `the request cannot be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

const SUBJECT_ALT_NAME_OID = '2.5.29.17';

function describe(csr: x509.Pkcs10CertificateRequest): CsrRequest {
  const subject = csr.subjectName.toJSON().flatMap((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((v) => `${type}=${v}`)));
  const commonNames = csr.subjectName.getField('CN');
  const san = csr.getExtension(SUBJECT_ALT_NAME_OID);
  const names = san === null ? [] : new x509.SubjectAlternativeNameExtension(san.rawData).names.toJSON();
  return {
    subject,
    commonName: commonNames.length === 1 ? commonNames[0] : undefined,
    organizations: csr.subjectName.getField('O'),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
    otherNames: names.filter((n) => n.type !== 'dns' && n.type !== 'ip').map((n) => `${n.type}:${n.value}`),
    spkiDer: new Uint8Array(csr.publicKey.rawData),
    keyAlgorithm: keyAlgorithm(csr.publicKey.algorithm as KeyAlgorithmParams),
  };
}

interface KeyAlgorithmParams { readonly name: string; readonly namedCurve?: string; readonly modulusLength?: number }

/** ECDSA P-256/P-384 or RSA of at least 2048 bits; anything else is `other` (refused by the deciders). */
function keyAlgorithm(alg: KeyAlgorithmParams): CsrRequest['keyAlgorithm'] {
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-256') return 'ecdsa-p256';
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-384') return 'ecdsa-p384';
  return alg.name.startsWith('RSA') && (alg.modulusLength ?? 0) >= 2048 ? 'rsa' : 'other';
}
