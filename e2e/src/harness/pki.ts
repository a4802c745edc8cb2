import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A PEM certificate and its PEM (PKCS#8) private key, with the files they were written to. */
export interface CertificateFiles {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Everything kube-apiserver and its clients need, written under one directory. */
export interface TestPki {
  readonly dir: string;
  /** The CA that signs the serving and client certificates (also the client CA). */
  readonly ca: CertificateFiles;
  /** kube-apiserver's serving certificate: SANs 127.0.0.1, localhost and the in-cluster names. */
  readonly apiserver: CertificateFiles;
  /** A cluster admin: CN=nodeward-admin, O=system:masters. */
  readonly admin: CertificateFiles;
  /** The service-account token signing key (PKCS#8) and its public key (SPKI). */
  readonly serviceAccount: { readonly publicKeyFile: string; readonly privateKeyFile: string };
}

interface KeyedCert {
  readonly cert: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

/** Generates a fresh CA, serving certificate, admin client certificate and service-account key pair. */
export async function generateTestPki(dir: string): Promise<TestPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa();
  const apiserver = await createLeaf(ca, 'CN=kube-apiserver', {
    usage: x509.ExtendedKeyUsage.serverAuth,
    sans: [
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: 'kubernetes' },
      { type: 'dns', value: 'kubernetes.default' },
      { type: 'dns', value: 'kubernetes.default.svc' },
    ],
  });
  const admin = await createLeaf(ca, 'CN=nodeward-admin, O=system:masters', { usage: x509.ExtendedKeyUsage.clientAuth, sans: [] });
  const saKeys = await generateKeys();
  const serviceAccount = {
    publicKeyFile: await writePem(dir, 'service-account.pub', 'PUBLIC KEY', await webcrypto.subtle.exportKey('spki', saKeys.publicKey)),
    privateKeyFile: await writePem(dir, 'service-account.key', 'PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', saKeys.privateKey)),
  };
  return {
    dir,
    ca: await writeCertificate(dir, 'ca', ca),
    apiserver: await writeCertificate(dir, 'apiserver', apiserver),
    admin: await writeCertificate(dir, 'admin', admin),
    serviceAccount,
  };
}

/**
 * A client certificate for `subject` (e.g. `CN=system:node:node-2, O=system:nodes`, a kubelet's), signed
 * by the CA kube-apiserver trusts for client authentication, written as `<name>.crt`/`<name>.key` in the
 * PKI directory.
 */
export async function issueClientCertificate(pki: TestPki, name: string, subject: string): Promise<CertificateFiles> {
  const cert = new x509.X509Certificate(pki.ca.certPem);
  const der = x509.PemConverter.decodeFirst(pki.ca.keyPem);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ecdsa, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', cert.publicKey.rawData, ecdsa, true, ['verify']);
  const ca: KeyedCert = { cert, keys: { privateKey, publicKey } };
  const leaf = await createLeaf(ca, subject, { usage: x509.ExtendedKeyUsage.clientAuth, sans: [] });
  return writeCertificate(pki.dir, name, leaf);
}

/** The subject a kubelet's client certificate has: the Node authorizer and NodeRestriction key on it. */
export function kubeletSubject(nodeName: string): string {
  return `CN=system:node:${nodeName}, O=system:nodes`;
}

function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
}

function validity(): { notBefore: Date; notAfter: Date; serialNumber: string } {
  const now = Date.now();
  const serialNumber = `01${Buffer.from(webcrypto.getRandomValues(new Uint8Array(15))).toString('hex')}`;
  return { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 7 * 86400_000), serialNumber };
}

async function createCa(): Promise<KeyedCert> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    ...validity(),
    name: 'CN=nodeward-testenv-ca',
    keys,
    signingAlgorithm: ecdsa,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function createLeaf(
  ca: KeyedCert,
  subject: string,
  opts: { usage: x509.ExtendedKeyUsage; sans: x509.JsonGeneralNames },
): Promise<KeyedCert> {
  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([opts.usage]),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (opts.sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(opts.sans));
  const cert = await x509.X509CertificateGenerator.create({
    ...validity(),
    subject,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ecdsa,
    extensions,
  });
  return { cert, keys };
}

async function writeCertificate(dir: string, name: string, keyed: KeyedCert): Promise<CertificateFiles> {
  const certPem = keyed.cert.toString('pem');
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keyed.keys.privateKey), 'PRIVATE KEY');
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  await writeFile(certFile, `${certPem}\n`, { mode: 0o600 });
  await writeFile(keyFile, `${keyPem}\n`, { mode: 0o600 });
  return { certPem, keyPem, certFile, keyFile };
}

async function writePem(dir: string, name: string, label: string, der: ArrayBuffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${x509.PemConverter.encode(der, label)}\n`, { mode: 0o600 });
  return file;
}
