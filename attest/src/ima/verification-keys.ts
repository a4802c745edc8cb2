import { constants, createHash, createPublicKey, publicDecrypt, type KeyObject } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { SubjectKeyIdentifierExtension, X509Certificate } from '@peculiar/x509';
import { hex8, imaKeyId, imaSignatureDigestSize, parseImaSignature, type ImaSignatureHashAlg } from './ima-signature.js';

/**
 * The keys a runtime policy trusts for IMA file signatures: Keylime's `verification-keys`, a JSON
 * string (sometimes JSON-encoded twice) of `{"meta": {"version": 1}, "keyids": [...], "pubkeys":
 * [base64 DER SubjectPublicKeyInfo, ...]}` (keylime/ima/file_signatures.py ImaKeyring.to_string).
 * keyids[i], when present and not 0, is key i's id; otherwise the id is computed as evmctl does.
 */

type EcCurve = typeof p256;

type VerificationKey =
  | { readonly kind: 'rsa'; readonly key: KeyObject }
  | { readonly kind: 'ec'; readonly curve: EcCurve; readonly point: Uint8Array };

const MIN_RSA_BITS = 2048;

const CURVES: Readonly<Record<string, EcCurve>> = { prime256v1: p256, secp384r1: p384, secp521r1: p521 };

/** DER DigestInfo prefixes (RFC 8017 9.2 note 1): PKCS#1 v1.5 signs prefix || digest. */
const DIGEST_INFO: Readonly<Record<ImaSignatureHashAlg, Buffer>> = {
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** Why a verification-keys string is invalid; compileRuntimePolicy turns it into a RuntimePolicyError. */
export class VerificationKeysError extends Error {}

function fail(detail: string): never {
  throw new VerificationKeysError(detail);
}

function decodeJson(text: string): unknown {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' ? JSON.parse(v) : v;
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A key Nodeward cannot use for IMA signatures: skipped (with a warning), never trusted. */
export interface SkippedVerificationKey {
  readonly index: number;
  /** Its key id, when known (given in keyids, or computable from the key). */
  readonly id?: number;
  readonly reason: string;
}

type Loaded = { readonly key: VerificationKey; readonly id: number } | { readonly skipped: string; readonly id?: number };

function ecPoint(k: KeyObject): Uint8Array {
  const jwk = k.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

/**
 * A DER SubjectPublicKeyInfo that does not parse makes the string invalid (fails); a well-formed key
 * of an algorithm, curve or size we do not verify with is skipped, as the README promises: files
 * signed only by it are held to `digests`. Keylime accepts e.g. secp256k1 keys (its own test policy
 * has one); Nodeward verifies only the curves IMA signs with in practice.
 */
function loadKey(b64: string, i: number): Loaded {
  let k: KeyObject;
  try {
    k = createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
  } catch (e) {
    return fail(`pubkeys[${i}] is not a DER SubjectPublicKeyInfo: ${(e as Error).message}`);
  }
  if (k.asymmetricKeyType === 'rsa') {
    const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
    const id = imaKeyId(k.export({ type: 'pkcs1', format: 'der' }));
    if (bits < MIN_RSA_BITS) return { skipped: `RSA-${bits}; at least ${MIN_RSA_BITS} bits are required`, id };
    return { key: { kind: 'rsa', key: k }, id };
  }
  if (k.asymmetricKeyType !== 'ec') return { skipped: `a ${k.asymmetricKeyType} key; IMA signatures use RSA or ECDSA P-256, P-384, P-521` };
  const curveName = k.asymmetricKeyDetails?.namedCurve ?? '';
  const curve = CURVES[curveName];
  const point = ecPoint(k);
  if (curve === undefined) return { skipped: `ECDSA on curve ${curveName}; supported are P-256, P-384, P-521`, id: imaKeyId(point) };
  return { key: { kind: 'ec', curve, point }, id: imaKeyId(point) };
}

/** What a signature check found: only `verified` lets an entry pass on its signature. */
export type SignatureCheck =
  | 'verified'
  | { readonly problem: string };

/**
 * Signature checks one verification call may fail before it stops trying: a node can log any number
 * of bad signatures, and each costs a public-key operation (about 2 ms for ECDSA). Entries past the
 * budget are held to the digest list alone, so the budget can only make a verdict stricter.
 */
export class SignatureBudget {
  constructor(public failuresLeft = 16) {}
}

/** Valid signatures remembered (by a SHA-256 of signature and digest), for every node and round. */
const VERIFIED_CACHE_MAX = 65_536;

export class ImaVerificationKeys {
  private readonly verified = new Set<string>();

  private constructor(
    private readonly byId: ReadonlyMap<number, VerificationKey>,
    /** Keys in the string that cannot be used (skipped, not trusted); compileRuntimePolicy warns about each. */
    readonly skipped: readonly SkippedVerificationKey[] = [],
  ) {}

  static readonly NONE = new ImaVerificationKeys(new Map());

  /** Parses Keylime's verification-keys string ('' = none). Throws VerificationKeysError. */
  static parse(text: string): ImaVerificationKeys {
    if (text === '') return ImaVerificationKeys.NONE;
    const v = decodeJson(text);
    if (!isObject(v)) fail('must be a JSON object');
    const { keyids = [], pubkeys } = v;
    if (!Array.isArray(pubkeys) || !pubkeys.every((p) => typeof p === 'string')) fail('pubkeys must be an array of base64 strings');
    if (!Array.isArray(keyids) || !keyids.every((id) => Number.isInteger(id) && id >= 0 && id <= 0xffffffff)) {
      fail('keyids must be an array of 32-bit unsigned integers');
    }
    const byId = new Map<number, VerificationKey>();
    const skipped: SkippedVerificationKey[] = [];
    pubkeys.forEach((b64: string, i) => {
      const loaded = loadKey(b64, i);
      const given = keyids[i] as number | undefined;
      const id = given === undefined || given === 0 ? loaded.id : given;
      if ('skipped' in loaded) {
        skipped.push(id === undefined ? { index: i, reason: loaded.skipped } : { index: i, id, reason: loaded.skipped });
        return;
      }
      if (byId.has(id!)) fail(`pubkeys[${i}]: key id ${hex8(id!)} is given twice`);
      byId.set(id!, loaded.key);
    });
    return new ImaVerificationKeys(byId, skipped);
  }

  get size(): number {
    return this.byId.size;
  }

  /** One line per skipped key, naming it: `verification-keys pubkeys[1] (key id 531f4025) skipped: ...`. */
  get warnings(): string[] {
    return this.skipped.map((k) => `verification-keys pubkeys[${k.index}]${k.id === undefined ? '' : ` (key id ${hex8(k.id)})`} skipped: ${k.reason}`);
  }

  private noKey(id: number): string {
    const skipped = this.skipped.find((k) => k.id === id);
    if (skipped === undefined) return `no verification key with id ${hex8(id)}`;
    return `verification key ${hex8(id)} (pubkeys[${skipped.index}]) was skipped: ${skipped.reason}`;
  }

  /**
   * Whether `sig` (an ima-sig entry's signature field) is a valid signature by one of these keys over
   * the file digest `digest` of algorithm `digestAlg` (the entry's d-ng algorithm). Never throws.
   */
  check(sig: Uint8Array, digestAlg: string, digest: Uint8Array, budget: SignatureBudget): SignatureCheck {
    const s = parseImaSignature(sig);
    if (typeof s === 'string') return { problem: `malformed signature: ${s}` };
    if (s.hashAlg !== digestAlg) return { problem: `signature is over a ${s.hashAlg} digest, the entry's is ${digestAlg}` };
    if (digest.length !== imaSignatureDigestSize(s.hashAlg)) return { problem: `digest has ${digest.length} bytes, not a ${s.hashAlg} digest` };
    const key = this.byId.get(s.keyId);
    if (key === undefined) return { problem: this.noKey(s.keyId) };
    // Unambiguous: the header fixes both the signature's length (sig_size) and the digest's (hash_algo).
    const memo = createHash('sha256').update(sig).update(digest).digest('base64');
    if (this.verified.has(memo)) return 'verified';
    if (budget.failuresLeft <= 0) return { problem: 'not checked: too many signatures in this batch failed already' };
    if (!verifies(key, s.signature, s.hashAlg, digest)) {
      budget.failuresLeft--;
      return { problem: `signature does not verify with key ${hex8(s.keyId)}` };
    }
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.values().next().value!);
    this.verified.add(memo);
    return 'verified';
  }
}

function verifies(key: VerificationKey, signature: Uint8Array, alg: ImaSignatureHashAlg, digest: Uint8Array): boolean {
  try {
    if (key.kind === 'ec') return key.curve.verify(signature, digest, key.point, { prehash: false, lowS: false, format: 'der' });
    // Verify by recovering the signed DigestInfo (OpenSSL checks the type 1 padding) and comparing it whole.
    const signed = publicDecrypt({ key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return signed.equals(Buffer.concat([DIGEST_INFO[alg], digest]));
  } catch {
    return false; // a signature of the wrong length, a DER error: not valid
  }
}

/** One key for a policy's verification-keys, with the key id to list for it (0: computed when read). */
export interface VerificationKeyInput {
  readonly spki: Buffer;
  readonly keyId: number;
}

function certificate(bytes: Buffer, text: string): X509Certificate | undefined {
  try {
    return new X509Certificate(text.includes('-----BEGIN CERTIFICATE-----') ? text : bytes);
  } catch {
    return undefined;
  }
}

/**
 * A verification key from a file's bytes: a public key (PEM or DER SubjectPublicKeyInfo) or an X.509
 * certificate, whose Subject Key Identifier (last four bytes), when it has one, is the key id, as
 * `evmctl --keyid-from-cert` signs with it and Keylime reads it. Throws VerificationKeysError.
 */
export function verificationKeyFrom(file: Uint8Array): VerificationKeyInput {
  const bytes = Buffer.from(file);
  const text = bytes.toString('latin1');
  const cert = certificate(bytes, text);
  if (cert !== undefined) {
    const skid = cert.getExtension(SubjectKeyIdentifierExtension)?.keyId;
    const keyId = skid !== undefined && skid.length >= 8 ? Number.parseInt(skid.slice(-8), 16) : 0;
    return { spki: Buffer.from(cert.publicKey.rawData), keyId };
  }
  try {
    const key = text.includes('-----BEGIN') ? createPublicKey(text) : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    return { spki: key.export({ type: 'spki', format: 'der' }), keyId: 0 };
  } catch (e) {
    return fail(`not a public key or certificate: ${(e as Error).message}`);
  }
}

/** The verification-keys string for these keys, as Keylime's ImaKeyring.to_string writes it; checked by reading it back. */
export function verificationKeysString(keys: readonly VerificationKeyInput[]): string {
  if (keys.length === 0) return '';
  const text = JSON.stringify({ pubkeys: keys.map((k) => k.spki.toString('base64')), keyids: keys.map((k) => k.keyId) });
  // A policy being written gets no key it would skip: its author is told now, not at every round.
  const warnings = ImaVerificationKeys.parse(text).warnings;
  if (warnings.length > 0) fail(warnings.join('; '));
  return text;
}
