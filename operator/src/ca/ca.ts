import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

/**
 * A small certificate authority for node credentials: a P-256 key and a self-signed certificate
 * (kept in Secret nodeward-ca), short-lived node certificates carrying the node name (SAN dNSName)
 * and the registered AK Name (custom extension), and a CRL of revoked serials.
 */
x509.cryptoProvider.set(webcrypto);

const ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** Fixed UUID 6f1c2a9e-4b7d-4e3a-9c58-2d0b7e61a4f3 as an OID arc under 2.25 (X.667). */
export const AK_NAME_UUID = '6f1c2a9e-4b7d-4e3a-9c58-2d0b7e61a4f3';
export const AK_NAME_OID = `2.25.${BigInt(`0x${AK_NAME_UUID.replace(/-/g, '')}`).toString(10)}`;

/**
 * @peculiar/x509 re-parses extensions before encoding and its OID strings cannot carry an arc
 * longer than 53 bits (a 2.25 UUID arc is 128), so the extension is built with a placeholder OID
 * whose DER is exactly as long as the real one; the TBS is signed and the certificate emitted with
 * the real OID bytes swapped in (same length, so no DER length changes anywhere).
 */
export const AK_NAME_OID_DER = oidDer(AK_NAME_OID);
const PLACEHOLDER_OID = `2.25${'.1'.repeat(AK_NAME_OID_DER.length - 3)}`;
const PLACEHOLDER_OID_DER = oidDer(PLACEHOLDER_OID);

export interface CaMaterial {
  certPem: string;
  keyPem: string;
}
export interface Ca {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  certPem: string;
}
export interface IssuedCredential {
  certificatePem: string;
  privateKeyPem: string;
  /** Lowercase hex serial. */
  serial: string;
  notAfter: Date;
}
export interface RevokedSerial {
  serial: string;
  revokedAt: Date;
}

export async function generateCa(commonName: string, now: Date, validityDays = 3650): Promise<CaMaterial> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + validityDays * 86_400_000),
    keys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export async function loadCa(material: CaMaterial): Promise<Ca> {
  const cert = new x509.X509Certificate(material.certPem);
  const der = x509.PemConverter.decodeFirst(material.keyPem);
  const key = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
  return { cert, key, certPem: material.certPem };
}

export interface CredentialRequestParams {
  nodeName: string;
  /** Registered AK Name, hex. */
  akName: string;
  now: Date;
  ttlMs: number;
}

/** Issue a node credential: fresh P-256 key, SAN dNSName = node name, AK Name extension. */
export async function issueNodeCredential(ca: Ca, p: CredentialRequestParams): Promise<IssuedCredential> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const serial = randomSerial();
  const notAfter = new Date(p.now.getTime() + p.ttlMs);
  const placeholder = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${p.nodeName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(p.now.getTime() - 60_000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: p.nodeName }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      new x509.Extension(PLACEHOLDER_OID, false, derOctetString(Buffer.from(p.akName, 'hex'))),
    ],
  }, oidSwappingCrypto());
  const cert = new x509.X509Certificate(swapOid(Buffer.from(placeholder.rawData)));
  return { certificatePem: cert.toString('pem'), privateKeyPem: await exportKeyPem(keys.privateKey), serial: cert.serialNumber.toLowerCase(), notAfter };
}

/**
 * The AK Name (hex) a credential was issued for, or undefined without the extension. Read from the
 * certificate's DER (the library cannot name a 128-bit arc): OID, [critical BOOLEAN], extnValue
 * OCTET STRING wrapping our OCTET STRING.
 */
export function akNameOf(cert: x509.X509Certificate): string | undefined {
  const der = Buffer.from(cert.rawData);
  const at = der.indexOf(AK_NAME_OID_DER);
  if (at < 0) return undefined;
  let i = at + AK_NAME_OID_DER.length;
  if (der[i] === 0x01) i += 3;
  if (der[i] !== 0x04) return undefined;
  const outer = derLength(der.subarray(i));
  const inner = der.subarray(i + outer.offset, i + outer.offset + outer.length);
  if (inner[0] !== 0x04) return undefined;
  const { offset, length } = derLength(inner);
  return inner.subarray(offset, offset + length).toString('hex');
}

/** A CRL listing every serial given (deduplicated), signed by the CA. */
export async function buildCrl(ca: Ca, revoked: readonly RevokedSerial[], now: Date, nextUpdateMs: number): Promise<string> {
  const unique = new Map<string, RevokedSerial>();
  for (const r of revoked) if (!unique.has(r.serial.toLowerCase())) unique.set(r.serial.toLowerCase(), r);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + nextUpdateMs),
    signingKey: ca.key,
    signingAlgorithm: SIGN,
    entries: [...unique.values()].map((r) => ({ serialNumber: r.serial, revocationDate: r.revokedAt, reason: x509.X509CrlReason.privilegeWithdrawn })),
  });
  // RFC 7468 section 5: the label is X509 CRL (the library writes CRL, which OpenSSL refuses).
  return x509.PemConverter.encode(crl.rawData, CRL_PEM_LABEL);
}

export const CRL_PEM_LABEL = 'X509 CRL';

/** The revoked serials of a CRL (lowercase hex) with their dates. Throws on a malformed CRL. */
export function crlEntries(crlPem: string): RevokedSerial[] {
  const crl = new x509.X509Crl(crlPem);
  return crl.entries.map((e) => ({ serial: e.serialNumber.toLowerCase(), revokedAt: e.revocationDate }));
}

/**
 * Whether a published CRL must be signed again: it is re-signed once half its lifetime
 * (thisUpdate to nextUpdate) has passed, so relying parties never hold an expired one; a CRL with
 * another PEM label, without nextUpdate or that does not parse is replaced at once.
 */
export function crlNeedsResigning(crlPem: string, now: Date): boolean {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(crlPem);
  } catch {
    return true;
  }
  if (!crlPem.includes(`-----BEGIN ${CRL_PEM_LABEL}-----`) || crl.nextUpdate === undefined) return true;
  const half = (crl.thisUpdate.getTime() + crl.nextUpdate.getTime()) / 2;
  return now.getTime() >= half;
}

export function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f | 0x01; // positive and no leading zero byte
  return Buffer.from(b).toString('hex');
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function derOctetString(bytes: Buffer): ArrayBuffer {
  const len = bytes.length < 0x80 ? Buffer.from([bytes.length]) : Buffer.from([0x81, bytes.length]);
  const out = Buffer.concat([Buffer.from([0x04]), len, bytes]);
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
}

function derLength(v: Buffer): { offset: number; length: number } {
  const first = v[1] ?? 0;
  return first < 0x80 ? { offset: 2, length: first } : { offset: 3, length: v[2] ?? 0 };
}

/** DER of an OBJECT IDENTIFIER, arcs of any size. */
export function oidDer(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => BigInt(a));
  const body: number[] = [Number(arcs[0]! * 40n + arcs[1]!)];
  for (const arc of arcs.slice(2)) {
    const bytes: number[] = [];
    let v = arc;
    do {
      bytes.unshift(Number(v & 0x7fn) | (bytes.length > 0 ? 0x80 : 0));
      v >>= 7n;
    } while (v > 0n);
    body.push(...bytes);
  }
  return Buffer.concat([Buffer.from([0x06, body.length]), Buffer.from(body)]);
}

function swapOid(der: Buffer): Buffer {
  const i = der.indexOf(PLACEHOLDER_OID_DER);
  if (i < 0 || der.indexOf(PLACEHOLDER_OID_DER, i + 1) >= 0) throw new Error('AK Name extension placeholder not found exactly once');
  const out = Buffer.from(der);
  AK_NAME_OID_DER.copy(out, i);
  return out;
}

/** webcrypto whose sign() signs the TBS with the real OID in place of the placeholder. */
function oidSwappingCrypto(): webcrypto.Crypto {
  const subtle = webcrypto.subtle;
  const sign: webcrypto.SubtleCrypto['sign'] = (alg, key, data) => subtle.sign(alg, key, swapOid(Buffer.from(data as ArrayBuffer)));
  const wrapped = new Proxy(subtle, {
    get: (target, prop): unknown => {
      if (prop === 'sign') return sign;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { subtle: wrapped, getRandomValues: webcrypto.getRandomValues.bind(webcrypto), randomUUID: webcrypto.randomUUID.bind(webcrypto) } as unknown as webcrypto.Crypto;
}
