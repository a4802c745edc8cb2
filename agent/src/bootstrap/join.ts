import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  JOIN_PROOF_ANNOTATION, joinQuoteNonce, type BankName, type IdentityResponse, type JoinIdentity, type JoinProof, type QuoteResponse,
} from '@nodeward/attest';
import type { Logger } from '../log.js';
import { apiRequest, type ApiTarget } from './api-client.js';
import { writeKubeletCredentials } from './kubelet-files.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The TPM operations a join needs (AgentTpm has them). */
export interface JoinTpm {
  readonly identity: IdentityResponse;
  activate(idObject: Buffer, encSecret: Buffer): Promise<Buffer>;
  quote(nonce: Buffer, sel: Partial<Record<BankName, number[]>>): Promise<QuoteResponse>;
}

export interface JoinOptions {
  readonly api: ApiTarget;
  readonly nodeName: string;
  readonly tpm: JoinTpm;
  /** kubelet's --kubeconfig. */
  readonly kubeconfigPath: string;
  /** kubelet's --cert-dir. */
  readonly certDir: string;
  /** The UEFI event log file, read when the challenge asks for it. */
  readonly eventLogPath: string;
  /** Requested certificate lifetime (the signer may shorten it); default: the signer's. */
  readonly expirationSeconds?: number;
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  readonly log: Logger;
}

export interface JoinResult {
  readonly joinRequest: string;
  readonly csr: string;
  readonly pemFile: string;
  /** Milliseconds from start to the certificate on disk, and its phases. */
  readonly timings: Readonly<Record<'challenge' | 'proof' | 'certificate' | 'total', number>>;
}

export class JoinDenied extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinDenied';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

interface NjrStatus {
  phase?: string; reason?: string; message?: string; credentialBlob?: string; encryptedSecret?: string;
  quoteBank?: BankName; quotePcrs?: number[]; eventLogRequired?: boolean;
}
interface Named { metadata: { name: string } }
interface CsrStatus { status?: { certificate?: string; conditions?: { type: string; reason?: string; message?: string }[] } }

const GROUP_PATH = '/apis/attestation.nodeward.io/v1alpha1/nodejoinrequests';
const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * The attested TLS bootstrap, run before kubelet (README "Attested join"): NodeJoinRequest with the TPM's
 * EK and AK → the operator's credential challenge → ActivateCredential, a fresh local key, a quote binding
 * that key and the secret → the kubelet CSR carrying the proof → the certificate, written where kubelet
 * reads it. The bootstrap token is used for nothing else and never written next to the kubelet's files.
 */
export async function joinCluster(o: JoinOptions): Promise<JoinResult> {
  const t0 = Date.now();
  const deadline = t0 + (o.timeoutMs ?? 120_000);
  const identity: JoinIdentity = { nodeName: o.nodeName, ekCertificates: o.tpm.identity.ekCertificates, ekPublic: o.tpm.identity.ekPublic, akPublic: o.tpm.identity.akPublic };
  const created = await apiRequest<Named>(o.api, 'POST', GROUP_PATH, {
    apiVersion: 'attestation.nodeward.io/v1alpha1', kind: 'NodeJoinRequest', metadata: { generateName: `${o.nodeName.slice(0, 200)}-` }, spec: identity,
  });
  const joinRequest = created.metadata.name;
  o.log.info('join requested', { joinRequest, nodeName: o.nodeName });
  const challenge = await poll(o, deadline, `the challenge of ${joinRequest}`, async () => {
    const s = (await apiRequest<{ status?: NjrStatus }>(o.api, 'GET', `${GROUP_PATH}/${joinRequest}`)).status;
    if (s?.phase === 'Denied') throw new JoinDenied(s.message ?? 'the join request was denied');
    return s?.phase === 'Challenged' ? s : undefined;
  });
  const tChallenge = Date.now();
  const secret = await o.tpm.activate(Buffer.from(challenge.credentialBlob ?? '', 'base64'), Buffer.from(challenge.encryptedSecret ?? '', 'base64'));
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const request = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=system:node:${o.nodeName}, O=system:nodes`, keys, signingAlgorithm: ecdsa });
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const quote = await o.tpm.quote(joinQuoteNonce(spki, secret), { [challenge.quoteBank ?? 'sha256']: challenge.quotePcrs ?? [] });
  const proof: JoinProof = {
    joinRequest, secret: secret.toString('base64'), quote,
    ...(challenge.eventLogRequired === true ? { eventLog: (await readFile(o.eventLogPath)).toString('base64') } : {}),
  };
  const csr = await apiRequest<Named>(o.api, 'POST', CSR_PATH, {
    apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest',
    metadata: { generateName: 'node-csr-', annotations: { [JOIN_PROOF_ANNOTATION]: JSON.stringify(proof) } },
    spec: {
      request: Buffer.from(request.toString('pem')).toString('base64'),
      signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
      usages: ['digital signature', 'client auth'],
      ...(o.expirationSeconds === undefined ? {} : { expirationSeconds: o.expirationSeconds }),
    },
  });
  const tProof = Date.now();
  o.log.info('kubelet CSR created', { csr: csr.metadata.name, joinRequest });
  const certPem = await poll(o, deadline, `the certificate of CSR ${csr.metadata.name}`, async () => certificateOf(await apiRequest<CsrStatus>(o.api, 'GET', `${CSR_PATH}/${csr.metadata.name}`)));
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  const { pemFile } = await writeKubeletCredentials({ kubeconfigPath: o.kubeconfigPath, certDir: o.certDir, server: o.api.server, caPem: o.api.caPem, certPem, keyPem });
  const end = Date.now();
  const timings = { challenge: tChallenge - t0, proof: tProof - tChallenge, certificate: end - tProof, total: end - t0 };
  o.log.info('kubelet certificate written', { csr: csr.metadata.name, pemFile, ...timings });
  return { joinRequest, csr: csr.metadata.name, pemFile, timings };
}

function certificateOf(csr: CsrStatus): string | undefined {
  const bad = csr.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
  if (bad !== undefined) throw new JoinDenied(`${bad.type} (${bad.reason ?? ''}): ${bad.message ?? ''}`);
  const cert = csr.status?.certificate;
  return cert === undefined || cert === '' ? undefined : Buffer.from(cert, 'base64').toString('utf8');
}

async function poll<T>(o: Pick<JoinOptions, 'pollMs'>, deadline: number, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
  }
}
