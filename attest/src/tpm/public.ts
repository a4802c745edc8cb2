import { ByteReader } from '../binary/reader.js';
import { hashAlgId, type HashAlgName } from '../hash-alg.js';
import { TPM2B_DIGEST_MAX } from './attest.js';
import { ALG } from './constants.js';
import { readHashAlg } from './hash-alg-field.js';
import { MAX_ECC_BYTES, MAX_RSA_BYTES } from './signature.js';
import { ByteWriter } from './writer.js';

/** TPMT_SYM_DEF_OBJECT when not TPM_ALG_NULL (then the field is null). */
export interface SymDefObject {
  readonly algorithm: number;
  readonly keyBits: number;
  readonly mode: number;
}

/** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME / TPMT_KDF_SCHEME when not TPM_ALG_NULL. */
export interface AsymScheme {
  readonly scheme: number;
  /** Absent only for RSAES, whose details are empty. */
  readonly hashAlg?: HashAlgName;
  /** ECDAA only. */
  readonly count?: number;
}

interface PublicBase {
  readonly nameAlg: HashAlgName;
  /** TPMA_OBJECT bits; see TPMA_OBJECT in constants.ts. */
  readonly objectAttributes: number;
  readonly authPolicy: Uint8Array;
  readonly symmetric: SymDefObject | null;
  readonly scheme: AsymScheme | null;
  /** The TPMT_PUBLIC bytes as received: what the object's Name hashes. */
  readonly raw: Uint8Array;
}

export interface RsaPublic extends PublicBase {
  readonly type: 'rsa';
  readonly keyBits: number;
  /** 0 means the default 65537. */
  readonly exponent: number;
  readonly modulus: Uint8Array;
}

export interface EccPublic extends PublicBase {
  readonly type: 'ecc';
  readonly curveId: number;
  readonly kdf: AsymScheme | null;
  readonly x: Uint8Array;
  readonly y: Uint8Array;
}

/** TPMT_PUBLIC of an asymmetric key (the only kinds an EK or AK can be). Untrusted as parsed. */
export type TpmPublic = RsaPublic | EccPublic;

const SYM_ALGS = new Set<number>([ALG.AES, 0x0013 /* SM4 */, 0x0026 /* CAMELLIA */]);
const SYM_MODES = new Set<number>([0x0040, 0x0041, 0x0042, ALG.CFB, 0x0044, ALG.NULL]);
const RSA_SCHEMES = new Set<number>([ALG.RSASSA, ALG.RSAPSS, ALG.OAEP, ALG.RSAES]);
const ECC_SCHEMES = new Set<number>([ALG.ECDSA, ALG.ECDH, ALG.ECDAA, ALG.SM2, ALG.ECSCHNORR, 0x001d /* ECMQV */]);
const KDF_SCHEMES = new Set<number>([0x0007 /* MGF1 */, ALG.KDF1_SP800_56A, ALG.KDF2, ALG.KDF1_SP800_108]);

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

function readSymDef(r: ByteReader): SymDefObject | null {
  const at = r.offset;
  const algorithm = r.u16be('symmetric.algorithm');
  if (algorithm === ALG.NULL) return null;
  if (!SYM_ALGS.has(algorithm)) r.fail(`unsupported symmetric algorithm ${hex4(algorithm)}`, at);
  const keyBits = r.u16be('symmetric.keyBits');
  const modeAt = r.offset;
  const mode = r.u16be('symmetric.mode');
  if (!SYM_MODES.has(mode)) r.fail(`unsupported symmetric mode ${hex4(mode)}`, modeAt);
  return { algorithm, keyBits, mode };
}

function readScheme(r: ByteReader, allowed: ReadonlySet<number>, what: string): AsymScheme | null {
  const at = r.offset;
  const scheme = r.u16be(what);
  if (scheme === ALG.NULL) return null;
  if (!allowed.has(scheme)) r.fail(`unsupported ${what} ${hex4(scheme)}`, at);
  if (scheme === ALG.RSAES) return { scheme };
  const hashAlg = readHashAlg(r, `${what}.hashAlg`);
  if (scheme === ALG.ECDAA) return { scheme, hashAlg, count: r.u16be(`${what}.count`) };
  return { scheme, hashAlg };
}

type Body = Omit<RsaPublic, keyof PublicBase> | Omit<EccPublic, keyof PublicBase>;

function readRsaBody(r: ByteReader): { scheme: AsymScheme | null; body: Body } {
  const scheme = readScheme(r, RSA_SCHEMES, 'scheme');
  const keyBits = r.u16be('keyBits');
  const exponent = r.u32be('exponent');
  return { scheme, body: { type: 'rsa', keyBits, exponent, modulus: r.tpm2b('unique.rsa', MAX_RSA_BYTES) } };
}

function readEccBody(r: ByteReader): { scheme: AsymScheme | null; body: Body } {
  const scheme = readScheme(r, ECC_SCHEMES, 'scheme');
  const curveId = r.u16be('curveID');
  const kdf = readScheme(r, KDF_SCHEMES, 'kdf');
  const x = r.tpm2b('unique.ecc.x', MAX_ECC_BYTES);
  const y = r.tpm2b('unique.ecc.y', MAX_ECC_BYTES);
  return { scheme, body: { type: 'ecc', curveId, kdf, x, y } };
}

/** Reads a TPMT_PUBLIC spanning the whole of r, whose bytes are raw. */
function readTpmtPublic(r: ByteReader, raw: Uint8Array): TpmPublic {
  const start = r.offset;
  const typeId = r.u16be('type');
  if (typeId !== ALG.RSA && typeId !== ALG.ECC) r.fail(`unsupported object type ${hex4(typeId)}`, start);
  const nameAlg = readHashAlg(r, 'nameAlg');
  const objectAttributes = r.u32be('objectAttributes');
  const authPolicy = r.tpm2b('authPolicy', TPM2B_DIGEST_MAX);
  const symmetric = readSymDef(r);
  const { scheme, body } = typeId === ALG.RSA ? readRsaBody(r) : readEccBody(r);
  r.expectEnd();
  return { nameAlg, objectAttributes, authPolicy, symmetric, scheme, raw, ...body };
}

/** Parses a TPMT_PUBLIC (no size prefix). Throws only ParseError. */
export function parseTpmtPublic(bytes: Uint8Array): TpmPublic {
  return readTpmtPublic(new ByteReader(bytes, 'TPMT_PUBLIC'), bytes);
}

/** Parses exactly one TPM2B_PUBLIC (what tpm2_createak -u / tpm2_readpublic -o write). Throws only ParseError. */
export function parsePublic(bytes: Uint8Array): TpmPublic {
  const r = new ByteReader(bytes, 'TPM2B_PUBLIC');
  const size = r.u16be('size');
  if (size === 0) r.fail('empty publicArea', 0);
  const inner = r.sub(size, 'TPMT_PUBLIC');
  r.expectEnd();
  return readTpmtPublic(inner, bytes.subarray(2, 2 + size));
}

function writeScheme(w: ByteWriter, s: AsymScheme | null): void {
  if (s === null) {
    w.u16be(ALG.NULL);
    return;
  }
  w.u16be(s.scheme);
  if (s.hashAlg !== undefined) w.u16be(hashAlgId(s.hashAlg));
  if (s.count !== undefined) w.u16be(s.count);
}

/** Marshals the TPMT_PUBLIC from the decoded fields (not from raw). */
export function marshalTpmtPublic(p: TpmPublic): Buffer {
  const w = new ByteWriter()
    .u16be(p.type === 'rsa' ? ALG.RSA : ALG.ECC)
    .u16be(hashAlgId(p.nameAlg))
    .u32be(p.objectAttributes)
    .tpm2b(p.authPolicy);
  if (p.symmetric === null) w.u16be(ALG.NULL);
  else w.u16be(p.symmetric.algorithm).u16be(p.symmetric.keyBits).u16be(p.symmetric.mode);
  writeScheme(w, p.scheme);
  if (p.type === 'rsa') {
    w.u16be(p.keyBits).u32be(p.exponent).tpm2b(p.modulus);
  } else {
    w.u16be(p.curveId);
    writeScheme(w, p.kdf);
    w.tpm2b(p.x).tpm2b(p.y);
  }
  return w.finish();
}

/** Marshals a TPM2B_PUBLIC; marshalPublic(parsePublic(x)) equals x. */
export function marshalPublic(p: TpmPublic): Buffer {
  return new ByteWriter().tpm2b(marshalTpmtPublic(p)).finish();
}
