import { constants, verify as cryptoVerify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { sameBytes } from '../binary/bytes.js';
import { isParseError } from '../binary/parse-error.js';
import { digestSize, hashIs, type HashAlgName } from '../hash-alg.js';
import { parseAttest, type ClockInfo, type TpmsAttest } from './attest.js';
import { TPM_GENERATED_VALUE, TPM_ST, eccCurve } from './constants.js';
import { padTo } from './key-object.js';
import type { PcrValues } from '../pcr.js';
import type { TpmlPcrSelection } from './pcr-selection.js';
import { verified, type Verified } from '../verified.js';
import { prepareAk, type PreparedAk } from './prepared-ak.js';
import type { TpmPublic } from './public.js';
import { quoteFailure, type QuoteFailure } from './quote-failure.js';
import { parseSignature, SIG_SCHEME_ID, type TpmSignature } from './signature.js';

export interface QuoteInput {
  /** TPM2B_PUBLIC bytes, a parsed public area, or the result of prepareAk (fastest). */
  readonly akPublic: Uint8Array | TpmPublic | PreparedAk;
  /** TPMS_ATTEST exactly as signed (QuoteResponse.quoted). */
  readonly quoted: Uint8Array;
  /** TPMT_SIGNATURE (QuoteResponse.signature). */
  readonly signature: Uint8Array;
  /** The nonce the verifier sent; must equal extraData. */
  readonly nonce: Uint8Array;
  /** The PCR values the agent reported; only those the quote selects end up trusted. */
  readonly pcrs: PcrValues<Uint8Array, HashAlgName>;
}

/** What a valid quote proves: the TPM's clock state and the selected PCR values, nothing else. */
export interface QuoteEvidence {
  readonly clockInfo: ClockInfo;
  readonly firmwareVersion: bigint;
  readonly pcrSelection: TpmlPcrSelection;
  /** Only the selected PCRs, each equal to what the signed digest covers. */
  readonly pcrs: PcrValues<Uint8Array, HashAlgName>;
  readonly hashAlg: HashAlgName;
  readonly qualifiedSigner: Uint8Array;
  readonly akName: Buffer;
}

/** Only verifyQuote makes one. */
export type VerifiedQuote = Verified<QuoteEvidence>;

export type QuoteVerdict = { readonly ok: true; readonly attest: VerifiedQuote } | { readonly ok: false; readonly reasons: QuoteFailure[] };

type SigCheck = { ok: true; hashAlg: HashAlgName } | { ok: false; reason: QuoteFailure };

function schemeMismatch(ak: TpmPublic, sig: TpmSignature & { hashAlg: HashAlgName }): string | undefined {
  const keyIsRsa = sig.scheme === 'rsassa' || sig.scheme === 'rsapss';
  if (keyIsRsa !== (ak.type === 'rsa')) return `a ${sig.scheme} signature cannot come from an ${ak.type} AK`;
  if (ak.scheme === null) return undefined;
  if (ak.scheme.scheme !== SIG_SCHEME_ID[sig.scheme] || ak.scheme.hashAlg !== sig.hashAlg) {
    return `the AK only signs with scheme 0x${ak.scheme.scheme.toString(16)}/${ak.scheme.hashAlg ?? '-'}, got ${sig.scheme}/${sig.hashAlg}`;
  }
  return undefined;
}

function verifyInput(ak: PreparedAk, sig: TpmSignature): { key: KeyObject | VerifyKeyObjectInput; sig: Uint8Array } | undefined {
  if (sig.scheme === 'rsassa') return { key: ak.key, sig: sig.sig };
  if (sig.scheme === 'rsapss') {
    // Any salt length: swtpm and many TPMs use salt = digest size, which tpm2_checkquote wrongly rejects.
    return { key: { key: ak.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig: sig.sig };
  }
  if (sig.scheme !== 'ecdsa' || ak.public.type !== 'ecc') return undefined;
  const size = eccCurve(ak.public.curveId)!.size;
  const r = padTo(sig.r, size);
  const s = padTo(sig.s, size);
  if (r === undefined || s === undefined) return { key: ak.key, sig: new Uint8Array(0) };
  return { key: { key: ak.key, dsaEncoding: 'ieee-p1363' }, sig: Buffer.concat([r, s]) };
}

function checkSignature(ak: PreparedAk, sig: TpmSignature, quoted: Uint8Array): SigCheck {
  if (sig.scheme !== 'rsassa' && sig.scheme !== 'rsapss' && sig.scheme !== 'ecdsa') {
    return { ok: false, reason: quoteFailure('UnsupportedScheme', `signature scheme ${sig.scheme} is not supported`, { scheme: sig.scheme }) };
  }
  const mismatch = schemeMismatch(ak.public, sig);
  if (mismatch !== undefined) return { ok: false, reason: quoteFailure('WrongSigningKey', mismatch, { scheme: sig.scheme }) };
  const input = verifyInput(ak, sig)!;
  let good = false;
  try {
    good = input.sig.length > 0 && cryptoVerify(sig.hashAlg, quoted, input.key, input.sig);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: quoteFailure('BadSignature', `the ${sig.scheme} signature does not verify with the AK`, { scheme: sig.scheme }) };
  return { ok: true, hashAlg: sig.hashAlg };
}

/** The selected PCR values joined in selection order (what pcrDigest hashes), reused by every call. */
let joinedPcrs = Buffer.alloc(24 * 64);

function join(v: Uint8Array, at: number): void {
  if (at + v.length > joinedPcrs.length) {
    const grown = Buffer.alloc(2 * (at + v.length));
    grown.set(joinedPcrs.subarray(0, at));
    joinedPcrs = grown;
  }
  joinedPcrs.set(v, at);
}

/** The selected PCRs, each checked and joined into `joinedPcrs` (its first `length` bytes). */
function collectPcrs(sel: TpmlPcrSelection, pcrs: PcrValues<Uint8Array, HashAlgName>, reasons: QuoteFailure[]): { length: number; trusted: PcrValues<Uint8Array, HashAlgName> } {
  let length = 0;
  const trusted: PcrValues<Uint8Array, HashAlgName> = {};
  for (const { bank, pcrs: indices } of sel) {
    const supplied = pcrs[bank];
    const out: Record<string, Uint8Array> = (trusted[bank] ??= {});
    for (const i of indices) {
      const v = supplied?.[i];
      if (v === undefined) reasons.push(quoteFailure('MissingPcr', `the quote selects ${bank}:${i} but no value was supplied`, { bank, index: i }));
      else if (v.length !== digestSize(bank)) reasons.push(quoteFailure('BadPcrValue', `${bank}:${i} has ${v.length} bytes, not ${digestSize(bank)}`, { bank, index: i }));
      else {
        join(v, length);
        length += v.length;
        out[i] = v;
      }
    }
  }
  return { length, trusted };
}

function checkHeader(a: TpmsAttest, nonce: Uint8Array, reasons: QuoteFailure[]): void {
  if (a.magic !== TPM_GENERATED_VALUE) {
    reasons.push(quoteFailure('BadMagic', `magic 0x${a.magic.toString(16)} is not TPM_GENERATED_VALUE`, { magic: a.magic }));
  }
  if (a.type !== TPM_ST.ATTEST_QUOTE) {
    reasons.push(quoteFailure('NotAQuote', `attestation type 0x${a.type.toString(16)} is not TPM_ST_ATTEST_QUOTE`, { type: a.type }));
  }
  if (!sameBytes(a.extraData, nonce)) {
    reasons.push(quoteFailure('NonceMismatch', 'extraData does not equal the nonce sent', { expected: Buffer.from(nonce).toString('hex') }));
  }
}

function parseAll(input: QuoteInput): { ak: PreparedAk; attest: TpmsAttest; sig: TpmSignature } | QuoteFailure {
  let what = 'AK public area';
  try {
    const ak = prepareAk(input.akPublic);
    what = 'quoted TPMS_ATTEST';
    const attest = parseAttest(input.quoted);
    what = 'signature';
    return { ak, attest, sig: parseSignature(input.signature) };
  } catch (e) {
    if (!isParseError(e)) throw e;
    return quoteFailure('Malformed', `${what}: ${e.message}`, { structure: e.structure, offset: e.offset });
  }
}

/**
 * Verifies a TPM2_Quote: the AK's signature over the exact quoted bytes, the magic, the type, the nonce,
 * and the PCR digest recomputed from the supplied values (selection order, indices ascending, hashed
 * with the signature's hash). Bad evidence is a verdict listing every reason; nothing is thrown.
 */
export function verifyQuote(input: QuoteInput): QuoteVerdict {
  const parsed = parseAll(input);
  if ('kind' in parsed) return { ok: false, reasons: [parsed] };
  const { ak, attest, sig } = parsed;
  const reasons: QuoteFailure[] = [];
  const sigCheck = checkSignature(ak, sig, input.quoted);
  if (!sigCheck.ok) reasons.push(sigCheck.reason);
  checkHeader(attest, input.nonce, reasons);
  if (attest.attested.kind !== 'quote' || !sigCheck.ok) return { ok: false, reasons };
  const { pcrSelect, pcrDigest } = attest.attested;
  const before = reasons.length;
  const { length, trusted } = collectPcrs(pcrSelect, input.pcrs, reasons);
  if (reasons.length === before && !hashIs(sigCheck.hashAlg, joinedPcrs.subarray(0, length), pcrDigest)) {
    reasons.push(quoteFailure('PcrDigestMismatch', 'the supplied PCR values do not hash to the signed pcrDigest', { hashAlg: sigCheck.hashAlg }));
  }
  if (reasons.length > 0) return { ok: false, reasons };
  return {
    ok: true,
    attest: verified<QuoteEvidence>({
      clockInfo: attest.clockInfo,
      firmwareVersion: attest.firmwareVersion,
      pcrSelection: pcrSelect,
      pcrs: trusted,
      hashAlg: sigCheck.hashAlg,
      qualifiedSigner: attest.qualifiedSigner,
      akName: ak.name,
    }),
  };
}

