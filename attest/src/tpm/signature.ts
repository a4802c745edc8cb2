import { ByteReader } from '../binary/reader.js';
import { digestSize, hashAlgId, type HashAlgName } from '../hash-alg.js';
import { ALG } from './constants.js';
import { readHashAlg } from './hash-alg-field.js';
import { ByteWriter } from './writer.js';

/** MAX_RSA_KEY_BYTES for 4096-bit keys. */
export const MAX_RSA_BYTES = 512;
/** MAX_ECC_KEY_BYTES for P-521. */
export const MAX_ECC_BYTES = 66;

export type RsaSigScheme = 'rsassa' | 'rsapss';
export type EccSigScheme = 'ecdsa' | 'ecdaa' | 'sm2' | 'ecschnorr';

/** TPMT_SIGNATURE (Part 2, 11.3.4) for the signature algorithms a TPM produces. */
export type TpmSignature =
  | { readonly scheme: RsaSigScheme; readonly hashAlg: HashAlgName; readonly sig: Uint8Array }
  | { readonly scheme: EccSigScheme; readonly hashAlg: HashAlgName; readonly r: Uint8Array; readonly s: Uint8Array }
  | { readonly scheme: 'hmac'; readonly hashAlg: HashAlgName; readonly digest: Uint8Array }
  | { readonly scheme: 'null' };

export const SIG_SCHEME_ID: Record<TpmSignature['scheme'], number> = {
  rsassa: ALG.RSASSA,
  rsapss: ALG.RSAPSS,
  ecdsa: ALG.ECDSA,
  ecdaa: ALG.ECDAA,
  sm2: ALG.SM2,
  ecschnorr: ALG.ECSCHNORR,
  hmac: ALG.HMAC,
  null: ALG.NULL,
};

const byId = new Map(Object.entries(SIG_SCHEME_ID).map(([k, v]) => [v, k as TpmSignature['scheme']]));

function readSignature(r: ByteReader): TpmSignature {
  const at = r.offset;
  const id = r.u16be('sigAlg');
  const scheme = byId.get(id);
  if (scheme === undefined) return r.fail(`unsupported signature algorithm 0x${id.toString(16).padStart(4, '0')}`, at);
  if (scheme === 'null') return { scheme };
  const hashAlg = readHashAlg(r, 'hash');
  switch (scheme) {
    case 'rsassa':
    case 'rsapss':
      return { scheme, hashAlg, sig: r.tpm2b('sig', MAX_RSA_BYTES) };
    case 'hmac':
      return { scheme, hashAlg, digest: r.bytes(digestSize(hashAlg), 'digest') };
    default:
      return { scheme, hashAlg, r: r.tpm2b('signatureR', MAX_ECC_BYTES), s: r.tpm2b('signatureS', MAX_ECC_BYTES) };
  }
}

/** Parses exactly one TPMT_SIGNATURE (tpm2-tools' default "tss" signature format). Throws only ParseError. */
export function parseSignature(bytes: Uint8Array): TpmSignature {
  const r = new ByteReader(bytes, 'TPMT_SIGNATURE');
  const sig = readSignature(r);
  r.expectEnd();
  return sig;
}

export function marshalSignature(sig: TpmSignature): Buffer {
  const w = new ByteWriter().u16be(SIG_SCHEME_ID[sig.scheme]);
  if (sig.scheme === 'null') return w.finish();
  w.u16be(hashAlgId(sig.hashAlg));
  if ('sig' in sig) w.tpm2b(sig.sig);
  else if ('digest' in sig) w.bytes(sig.digest);
  else w.tpm2b(sig.r).tpm2b(sig.s);
  return w.finish();
}
