import { createPublicKey, type KeyObject } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { ECC_CURVE, eccCurve } from './constants.js';
import { marshalTpmtPublic, type EccPublic, type RsaPublic, type TpmPublic } from './public.js';

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** Left-pads an ECC coordinate to the curve size; undefined when it cannot fit. */
export function padTo(b: Uint8Array, size: number): Uint8Array | undefined {
  const v = stripZeros(b);
  if (v.length > size) return undefined;
  if (v.length === size) return v;
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

function fail(detail: string): never {
  throw new ParseError('TPMT_PUBLIC', 0, detail);
}

function exponentBytes(e: number): Uint8Array {
  const v = e === 0 ? 65537 : e;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return stripZeros(b);
}

function rsaKey(p: RsaPublic): KeyObject {
  if (![1024, 2048, 3072, 4096].includes(p.keyBits)) fail(`unsupported RSA keyBits ${p.keyBits}`);
  if (p.modulus.length !== p.keyBits / 8) fail(`RSA modulus of ${p.modulus.length} bytes for keyBits ${p.keyBits}`);
  if ((p.modulus[0]! & 0x80) === 0) fail('RSA modulus shorter than keyBits');
  return createPublicKey({ key: { kty: 'RSA', n: b64u(p.modulus), e: b64u(exponentBytes(p.exponent)) }, format: 'jwk' });
}

function eccKey(p: EccPublic): KeyObject {
  const curve = eccCurve(p.curveId);
  if (curve === undefined) fail(`unsupported ECC curve 0x${p.curveId.toString(16).padStart(4, '0')}`);
  const x = padTo(p.x, curve.size);
  const y = padTo(p.y, curve.size);
  if (x === undefined || y === undefined) fail(`ECC point does not fit ${curve.jwk}`);
  return createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x: b64u(x), y: b64u(y) }, format: 'jwk' });
}

/**
 * A node KeyObject for an RSA or NIST ECC TPMT_PUBLIC. Throws only ParseError (unsupported size or
 * curve, or a point not on the curve).
 */
export function publicKeyObject(p: TpmPublic): KeyObject {
  try {
    return p.type === 'rsa' ? rsaKey(p) : eccKey(p);
  } catch (e) {
    if (e instanceof ParseError) throw e;
    return fail(`not a usable ${p.type} public key: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const BARE = { nameAlg: 'sha256', objectAttributes: 0, authPolicy: new Uint8Array(0), symmetric: null, scheme: null, raw: new Uint8Array(0) } as const;

function rsaFromJwk(n: string, e: string): RsaPublic {
  const modulus = Buffer.from(n, 'base64url');
  const eb = Buffer.from(e, 'base64url');
  if (eb.length === 0 || eb.length > 4) fail('RSA exponent does not fit 32 bits');
  const exponent = eb.readUIntBE(0, eb.length);
  return { ...BARE, type: 'rsa', keyBits: modulus.length * 8, exponent: exponent === 65537 ? 0 : exponent, modulus };
}

function eccFromJwk(crv: string | undefined, x: string, y: string): EccPublic {
  const curveId = Object.values(ECC_CURVE).find((id) => eccCurve(id)?.jwk === crv) ?? fail(`unsupported curve ${crv ?? '?'}`);
  return { ...BARE, type: 'ecc', curveId, kdf: null, x: Buffer.from(x, 'base64url'), y: Buffer.from(y, 'base64url') };
}

/**
 * A TPMT_PUBLIC for a bare public key (e.g. the PEM tpm2_createak -f pem writes): RSA or NIST ECC,
 * nameAlg SHA-256, no attributes and no scheme. Lossy: the TPM's attributes, policy and scheme are not
 * in a PEM, so the Name differs from the real key's and verifyAkAttributes cannot pass. Throws only ParseError.
 */
export function tpmPublicFromKeyObject(key: KeyObject): TpmPublic {
  const jwk = key.type === 'public' ? key.export({ format: 'jwk' }) : fail('not a public key');
  let pub: TpmPublic;
  if (jwk.kty === 'RSA' && jwk.n !== undefined && jwk.e !== undefined) pub = rsaFromJwk(jwk.n, jwk.e);
  else if (jwk.kty === 'EC' && jwk.x !== undefined && jwk.y !== undefined) pub = eccFromJwk(jwk.crv, jwk.x, jwk.y);
  else return fail(`unsupported key type ${jwk.kty ?? '?'}`);
  return { ...pub, raw: marshalTpmtPublic(pub) };
}
