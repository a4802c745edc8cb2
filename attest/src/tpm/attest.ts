import { ByteReader } from '../binary/reader.js';
import { TPM_ST } from './constants.js';
import { readPcrSelection, writePcrSelection, type TpmlPcrSelection } from './pcr-selection.js';
import { ByteWriter } from './writer.js';

/** sizeof(TPMU_NAME) = sizeof(TPMT_HA) with SHA-512: a TPM2B_NAME is at most 2 + 64 bytes. */
export const TPM2B_NAME_MAX = 66;
/** sizeof(TPMU_HA): TPM2B_DIGEST and TPM2B_DATA hold at most a SHA-512 digest. */
export const TPM2B_DIGEST_MAX = 64;

/** TPMS_CLOCK_INFO. resetCount moves on every TPM Reset (reboot), restartCount on Restart/Resume. */
export interface ClockInfo {
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
}

/** TPMU_ATTEST, decoded for the types this library uses; the others are kept as raw bytes. */
export type Attested =
  | { readonly kind: 'quote'; readonly pcrSelect: TpmlPcrSelection; readonly pcrDigest: Uint8Array }
  | { readonly kind: 'certify'; readonly name: Uint8Array; readonly qualifiedName: Uint8Array }
  | { readonly kind: 'creation'; readonly objectName: Uint8Array; readonly creationHash: Uint8Array }
  | { readonly kind: 'other'; readonly raw: Uint8Array };

/** TPMS_ATTEST as parsed: untrusted until its signature has been checked. */
export interface TpmsAttest {
  readonly magic: number;
  readonly type: number;
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clockInfo: ClockInfo;
  readonly firmwareVersion: bigint;
  readonly attested: Attested;
}

function readClockInfo(r: ByteReader): ClockInfo {
  const clock = r.u64be('clockInfo.clock');
  const resetCount = r.u32be('clockInfo.resetCount');
  const restartCount = r.u32be('clockInfo.restartCount');
  const safeAt = r.offset;
  const safe = r.u8('clockInfo.safe');
  if (safe > 1) r.fail(`clockInfo.safe must be 0 or 1, got ${safe}`, safeAt);
  return { clock, resetCount, restartCount, safe: safe === 1 };
}

function readAttested(r: ByteReader, type: number, typeAt: number): Attested {
  switch (type) {
    case TPM_ST.ATTEST_QUOTE:
      return { kind: 'quote', pcrSelect: readPcrSelection(r), pcrDigest: r.tpm2b('pcrDigest', TPM2B_DIGEST_MAX) };
    case TPM_ST.ATTEST_CERTIFY:
      return { kind: 'certify', name: r.tpm2b('name', TPM2B_NAME_MAX), qualifiedName: r.tpm2b('qualifiedName', TPM2B_NAME_MAX) };
    case TPM_ST.ATTEST_CREATION:
      return { kind: 'creation', objectName: r.tpm2b('objectName', TPM2B_NAME_MAX), creationHash: r.tpm2b('creationHash', TPM2B_DIGEST_MAX) };
    case TPM_ST.ATTEST_NV:
    case TPM_ST.ATTEST_COMMAND_AUDIT:
    case TPM_ST.ATTEST_SESSION_AUDIT:
    case TPM_ST.ATTEST_TIME:
      return { kind: 'other', raw: r.bytes(r.remaining, 'attested') };
    default:
      return r.fail(`unknown attestation type 0x${type.toString(16)}`, typeAt);
  }
}

/**
 * Parses a TPMS_ATTEST (the bytes a TPM signs; without the TPM2B_ATTEST size). The magic is kept,
 * not checked: a verifier reports a wrong magic as a reason. Throws only ParseError.
 */
export function parseAttest(bytes: Uint8Array): TpmsAttest {
  const r = new ByteReader(bytes, 'TPMS_ATTEST');
  const magic = r.u32be('magic');
  const typeAt = r.offset;
  const type = r.u16be('type');
  const qualifiedSigner = r.tpm2b('qualifiedSigner', TPM2B_NAME_MAX);
  const extraData = r.tpm2b('extraData', TPM2B_DIGEST_MAX);
  const clockInfo = readClockInfo(r);
  const firmwareVersion = r.u64be('firmwareVersion');
  const attested = readAttested(r, type, typeAt);
  r.expectEnd();
  return { magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion, attested };
}

function writeAttested(w: ByteWriter, a: Attested): void {
  switch (a.kind) {
    case 'quote':
      writePcrSelection(w, a.pcrSelect).tpm2b(a.pcrDigest);
      return;
    case 'certify':
      w.tpm2b(a.name).tpm2b(a.qualifiedName);
      return;
    case 'creation':
      w.tpm2b(a.objectName).tpm2b(a.creationHash);
      return;
    case 'other':
      w.bytes(a.raw);
  }
}

/** Marshals a TPMS_ATTEST (no TPM2B size); marshalAttest(parseAttest(x)) equals x. */
export function marshalAttest(a: TpmsAttest): Buffer {
  const w = new ByteWriter()
    .u32be(a.magic)
    .u16be(a.type)
    .tpm2b(a.qualifiedSigner)
    .tpm2b(a.extraData)
    .u64be(a.clockInfo.clock)
    .u32be(a.clockInfo.resetCount)
    .u32be(a.clockInfo.restartCount)
    .u8(a.clockInfo.safe ? 1 : 0)
    .u64be(a.firmwareVersion);
  writeAttested(w, a.attested);
  return w.finish();
}

/** Strips a TPM2B_ATTEST size prefix when present (older tpm2-tools wrote one), else returns the bytes. */
export function unwrapAttest(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= 6 && ((bytes[0]! << 8) | bytes[1]!) === bytes.length - 2 && bytes[2] === 0xff && bytes[3] === 0x54) {
    return bytes.subarray(2);
  }
  return bytes;
}
