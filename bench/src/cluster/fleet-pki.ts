import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Certificates for the soft agent fleet, made in-process with WebCrypto (thousands in seconds, where
 * the openssl CLI takes a process per certificate): serving certificates for each node IP, issued by
 * the stack's agent CA (the operator trusts it), and EK certificates from a fleet "manufacturer" CA
 * that goes into the policy's trust anchors.
 */

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto);
const subtle = webcrypto.subtle;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Issuer { cert: x509.X509Certificate; key: CryptoKey }

let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(8, '0');

/** The stack's openssl-made CA (PEM cert + PKCS#8 or SEC1 EC key) as an issuer. */
export async function importIssuer(certPem: string, keyPem: string): Promise<Issuer> {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  return { cert: new x509.X509Certificate(certPem), key: await subtle.importKey('pkcs8', der, ECDSA, false, ['sign']) };
}

export async function createIssuer(cn: string): Promise<Issuer> {
  const keys = await subtle.generateKey(ECDSA, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(), name: `CN=${cn}`, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY),
    keys, signingAlgorithm: ECDSA,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { cert, key: keys.privateKey };
}

/** One EC key pair shared by every serving certificate (a benchmark shortcut: each IP still has its own certificate). */
export async function servingKey(): Promise<{ pair: CryptoKeyPair; pem: string }> {
  const pair = await subtle.generateKey(ECDSA, true, ['sign', 'verify']);
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', pair.privateKey)).toString('base64');
  return { pair, pem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

async function issue(issuer: Issuer, subject: string, publicKey: CryptoKey, extensions: x509.Extension[]): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(), subject, issuer: issuer.cert.subject, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY),
    publicKey, signingKey: issuer.key, signingAlgorithm: ECDSA, extensions,
  });
}

/** A serving certificate for `ip` (SAN IP and DNS `name`), serverAuth. PEM. */
export async function servingCert(issuer: Issuer, publicKey: CryptoKey, ip: string, name: string): Promise<string> {
  const cert = await issue(issuer, `CN=${name}`, publicKey, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: ip }, { type: 'dns', value: name }]),
  ]);
  return cert.toString('pem');
}

/** An EK certificate (DER) for an RSA EK public key, keyEncipherment, as TPM vendors issue them. */
export async function ekCertificate(issuer: Issuer, ekPublic: KeyObject, node: string): Promise<Buffer> {
  const spki = ekPublic.export({ format: 'der', type: 'spki' });
  const ecc = ekPublic.asymmetricKeyType === 'ec';
  const key = ecc ? await subtle.importKey('spki', spki, { name: 'ECDH', namedCurve: 'P-256' }, true, [])
    : await subtle.importKey('spki', spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, true, ['encrypt']);
  const usage = ecc ? x509.KeyUsageFlags.keyAgreement : x509.KeyUsageFlags.keyEncipherment;
  const cert = await issue(issuer, `CN=soft EK ${node}`, key, [new x509.KeyUsagesExtension(usage, true)]);
  return Buffer.from(cert.rawData);
}
