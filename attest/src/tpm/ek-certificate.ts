import { createHash, createPublicKey, KeyObject, type webcrypto } from 'node:crypto';
import { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, X509Certificate } from '@peculiar/x509';
import { isParseError } from '../binary/parse-error.js';
import { failure, type Failure } from '../failure.js';
import type { Hex } from '../wire.js';
import { publicKeyObject } from './key-object.js';
import { parsePublic } from './public.js';

export interface EkCertificateInput {
  readonly ekCertDer: Uint8Array;
  /** Issuing CAs the TPM or its manufacturer supplies (untrusted: they only help build the chain). */
  readonly intermediatesDer?: readonly Uint8Array[];
  /** PEM certificates of the manufacturer roots (or issuers) the policy trusts. */
  readonly trustAnchorsPem: readonly string[];
  /** TPM2B_PUBLIC of the EK the TPM reported. */
  readonly ekPublic: Uint8Array;
  readonly now?: Date;
}

export interface EkCertificateVerdict {
  readonly ok: boolean;
  readonly failures: Failure[];
  /** SHA-256 of the certificate DER, lowercase hex: the identity a policy can pin. */
  readonly fingerprintSha256: Hex;
}

const MAX_CHAIN = 8;

function parseCert(der: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

function parsePem(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => parseCert(Buffer.from(b.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'))).filter((c): c is X509Certificate => c !== undefined);
}

/** Trust anchor bundles parsed before, by their PEM text: a policy's anchors are the same for every node it registers. */
const anchorCache = new Map<string, X509Certificate[]>();
const ANCHOR_CACHE_MAX = 32;

/** The certificates of a trust anchor bundle (memoised: parsing is most of a registration's EK check when nodes join together). */
function anchorsOf(pem: string): X509Certificate[] {
  let certs = anchorCache.get(pem);
  if (certs === undefined) {
    if (anchorCache.size >= ANCHOR_CACHE_MAX) anchorCache.clear();
    certs = parsePem(pem);
    anchorCache.set(pem, certs);
  }
  return certs;
}

const sameCert = (a: X509Certificate, b: X509Certificate): boolean => Buffer.from(a.rawData).equals(Buffer.from(b.rawData));

/** A public key imported for verification (WebCrypto, which @peculiar/x509 uses). */
type IssuerKey = webcrypto.CryptoKey;

/** Per certificate object (anchors are parsed once, see anchorsOf): whether it may issue, and its imported verification keys. */
const issuerFacts = new WeakMap<X509Certificate, { canIssue: boolean; keys: Map<string, Promise<IssuerKey>> }>();

function factsOf(c: X509Certificate): { canIssue: boolean; keys: Map<string, Promise<IssuerKey>> } {
  let f = issuerFacts.get(c);
  if (f === undefined) {
    const bc = c.getExtension(BasicConstraintsExtension);
    const ku = c.getExtension(KeyUsagesExtension);
    f = { canIssue: bc?.ca === true && (ku === null || (ku.usages & KeyUsageFlags.keyCertSign) !== 0), keys: new Map() };
    issuerFacts.set(c, f);
  }
  return f;
}

/** The issuer's public key imported for the subject's signature algorithm (what verify() would import each time). */
function issuerKey(issuer: X509Certificate, subject: X509Certificate): Promise<IssuerKey> {
  const keyAlgorithm: unknown = issuer.publicKey.algorithm;
  const signatureAlgorithm: unknown = subject.signatureAlgorithm;
  const algorithm = { ...(keyAlgorithm as object), ...(signatureAlgorithm as object) };
  const keys = factsOf(issuer).keys;
  const id = JSON.stringify(algorithm);
  let key = keys.get(id);
  if (key === undefined) {
    key = issuer.publicKey.export(algorithm, ['verify']);
    keys.set(id, key);
  }
  return key;
}

async function signedBy(cur: X509Certificate, issuer: X509Certificate): Promise<boolean> {
  try {
    return await cur.verify({ publicKey: await issuerKey(issuer, cur), signatureOnly: true });
  } catch {
    return false;
  }
}

async function findIssuer(cur: X509Certificate, candidates: X509Certificate[], chain: X509Certificate[]): Promise<X509Certificate | undefined> {
  for (const c of candidates) {
    if (c.subject !== cur.issuer || chain.some((x) => sameCert(x, c)) || !factsOf(c).canIssue) continue;
    if (await signedBy(cur, c)) return c;
  }
  return undefined;
}

/** Leaf first, ending at the first trust anchor; undefined when no anchor is reached. */
async function buildChain(leaf: X509Certificate, anchors: X509Certificate[], intermediates: X509Certificate[]): Promise<X509Certificate[] | undefined> {
  const chain = [leaf];
  for (let cur = leaf; chain.length <= MAX_CHAIN; ) {
    if (anchors.some((a) => sameCert(a, cur))) return chain;
    const next = await findIssuer(cur, [...anchors, ...intermediates], chain);
    if (next === undefined) return undefined;
    chain.push(next);
    cur = next;
  }
  return undefined;
}

function expired(chain: X509Certificate[], now: Date): Failure[] {
  return chain
    .filter((c) => now < c.notBefore || now > c.notAfter)
    .map((c) => failure('identity.ek_cert_expired', `${c === chain[0] ? 'EK certificate' : `issuer ${c.subject}`} is not valid at ${now.toISOString()}`, {
      subject: c.subject, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
    }));
}

function ekKey(ekPublic: Uint8Array): KeyObject | Failure {
  try {
    return publicKeyObject(parsePublic(ekPublic));
  } catch (e) {
    if (!isParseError(e)) throw e;
    return failure('identity.ek_public_malformed', `EK public area: ${e.message}`, { structure: e.structure, offset: e.offset });
  }
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' }).equals(key);
  } catch {
    return false;
  }
}

/**
 * Verifies an EK certificate: a chain to one of the trust anchors (signatures, CA constraints),
 * validity at `now`, and that it certifies the EK public key the TPM reported. Returns every failure.
 */
export async function verifyEkCertificate(input: EkCertificateInput): Promise<EkCertificateVerdict> {
  const fingerprintSha256 = createHash('sha256').update(input.ekCertDer).digest('hex');
  const leaf = parseCert(input.ekCertDer);
  if (leaf === undefined) {
    return { ok: false, fingerprintSha256, failures: [failure('identity.ek_cert_malformed', 'the EK certificate is not a parsable X.509 certificate')] };
  }
  const failures: Failure[] = [];
  const anchors = input.trustAnchorsPem.flatMap(anchorsOf);
  const intermediates = (input.intermediatesDer ?? []).map(parseCert).filter((c): c is X509Certificate => c !== undefined);
  const chain = await buildChain(leaf, anchors, intermediates);
  if (chain === undefined) {
    failures.push(failure('identity.ek_chain_untrusted', 'the EK certificate does not chain to a trusted manufacturer CA', { issuer: leaf.issuer }));
  }
  failures.push(...expired(chain ?? [leaf], input.now ?? new Date()));
  const key = ekKey(input.ekPublic);
  if (!(key instanceof KeyObject)) failures.push(key);
  else if (!keyMatches(leaf, key)) {
    failures.push(failure('identity.ek_key_mismatch', "the TPM's EK public key is not the key the certificate certifies"));
  }
  return { ok: failures.length === 0, failures, fingerprintSha256 };
}
