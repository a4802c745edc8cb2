import {
  ByteReader, ByteWriter, hashAlgId, isParseError, marshalPcrSelection, readPcrSelection, TPM_ALG,
  BANK_NAMES, isBankName, type PcrSelection, type PcrValues, type TpmlPcrSelection,
} from '@nodeward/attest';
import { TpmError } from './tpm-error.js';

/**
 * TPM 2.0 command marshalling and response parsing for the few commands the agent sends itself
 * (Part 3 command layouts; Part 1 §18 command/response structure). Pure: bytes in, bytes out. A
 * response code other than TPM_RC_SUCCESS becomes a TpmResponseError naming the command and the
 * code; a malformed response becomes a TpmError; nothing else is thrown.
 */

export const TPM_CC = {
  EvictControl: 0x00000120,
  ActivateCredential: 0x00000147,
  Create: 0x00000153,
  NV_Read: 0x0000014e,
  NV_ReadPublic: 0x00000169,
  PolicySecret: 0x00000151,
  Load: 0x00000157,
  Quote: 0x00000158,
  FlushContext: 0x00000165,
  ReadPublic: 0x00000173,
  StartAuthSession: 0x00000176,
  GetCapability: 0x0000017a,
  PCR_Read: 0x0000017e,
} as const;

export type CommandName = keyof typeof TPM_CC;

const TPM_ST_NO_SESSIONS = 0x8001;
const TPM_ST_SESSIONS = 0x8002;
export const TPM_RH_NULL = 0x40000007;
export const TPM_RH_ENDORSEMENT = 0x4000000b;
/** The password authorization pseudo-session. */
export const TPM_RS_PW = 0x40000009;
const TPM_SE_POLICY = 0x01;
const TPM_ALG_NULL = 0x0010;
const TPM_ALG_RSASSA = 0x0014;
const TPM_ALG_ECDSA = 0x0018;
/** TPMA_SESSION.continueSession. */
export const CONTINUE_SESSION = 0x01;
/** Larger than any TPM's MAX_RESPONSE_SIZE (4 KiB on most); a bigger size field means a broken stream. */
export const MAX_RESPONSE_SIZE = 64 << 10;
/** TPM2_PCR_Read answers at most this many digests per call (TPML_DIGEST holds 8). */
export const MAX_PCR_READ_DIGESTS = 8;

/** A TPM response code other than TPM_RC_SUCCESS. */
export class TpmResponseError extends TpmError {
  constructor(readonly command: CommandName, readonly rc: number) {
    super(`TPM2_${command}`, `TPM returned ${describeRc(rc)}`);
    this.name = 'TpmResponseError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

const FMT1_NAMES: Record<number, string> = {
  0x01: 'ASYMMETRIC', 0x02: 'ATTRIBUTES', 0x03: 'HASH', 0x04: 'VALUE', 0x05: 'HIERARCHY', 0x07: 'KEY_SIZE', 0x08: 'MGF',
  0x09: 'MODE', 0x0a: 'TYPE', 0x0b: 'HANDLE', 0x0c: 'KDF', 0x0d: 'RANGE', 0x0e: 'AUTH_FAIL', 0x0f: 'NONCE', 0x10: 'PP',
  0x12: 'SCHEME', 0x15: 'SIZE', 0x16: 'SYMMETRIC', 0x17: 'TAG', 0x18: 'SELECTOR', 0x1a: 'INSUFFICIENT', 0x1b: 'SIGNATURE',
  0x1c: 'KEY', 0x1d: 'POLICY_FAIL', 0x1f: 'INTEGRITY', 0x20: 'TICKET', 0x21: 'RESERVED_BITS', 0x22: 'BAD_AUTH',
  0x23: 'EXPIRED', 0x24: 'POLICY_CC', 0x25: 'BINDING', 0x26: 'CURVE', 0x27: 'ECC_POINT',
};
const VER1_NAMES: Record<number, string> = {
  0x000: 'INITIALIZE', 0x001: 'FAILURE', 0x003: 'SEQUENCE', 0x00b: 'PRIVATE', 0x019: 'HMAC', 0x020: 'DISABLED',
  0x021: 'EXCLUSIVE', 0x024: 'AUTH_TYPE', 0x025: 'AUTH_MISSING', 0x026: 'POLICY', 0x027: 'PCR', 0x028: 'PCR_CHANGED',
  0x02d: 'UPGRADE', 0x02e: 'TOO_MANY_CONTEXTS', 0x02f: 'AUTH_UNAVAILABLE', 0x030: 'REBOOT', 0x031: 'UNBALANCED',
  0x042: 'COMMAND_SIZE', 0x043: 'COMMAND_CODE', 0x044: 'AUTHSIZE', 0x045: 'AUTH_CONTEXT', 0x046: 'NV_RANGE',
  0x047: 'NV_SIZE', 0x048: 'NV_LOCKED', 0x049: 'NV_AUTHORIZATION', 0x04a: 'NV_UNINITIALIZED', 0x04b: 'NV_SPACE',
  0x04c: 'NV_DEFINED', 0x050: 'BAD_CONTEXT', 0x051: 'CPHASH', 0x052: 'PARENT', 0x053: 'NEEDS_TEST', 0x054: 'NO_RESULT',
  0x055: 'SENSITIVE',
};
const WARN_NAMES: Record<number, string> = {
  0x001: 'CONTEXT_GAP', 0x002: 'OBJECT_MEMORY', 0x003: 'SESSION_MEMORY', 0x004: 'MEMORY', 0x005: 'SESSION_HANDLES',
  0x006: 'OBJECT_HANDLES', 0x007: 'LOCALITY', 0x008: 'YIELDED', 0x009: 'CANCELED', 0x00a: 'TESTING', 0x020: 'NV_RATE',
  0x021: 'LOCKOUT', 0x022: 'RETRY', 0x023: 'NV_UNAVAILABLE',
};

/** `0x98e (TPM_RC_AUTH_FAIL, session 1)`: the code and what Part 2 §6.6 says it means. */
export function describeRc(rc: number): string {
  const hex = `0x${rc.toString(16).padStart(3, '0')}`;
  if ((rc & 0x80) !== 0) {
    const n = (rc >> 8) & 0x7;
    const where = (rc & 0x40) !== 0 ? `parameter ${(rc >> 8) & 0xf}` : (rc & 0x800) !== 0 ? `session ${n}` : `handle ${n}`;
    return `${hex} (TPM_RC_${FMT1_NAMES[rc & 0x3f] ?? 'unknown'}, ${where})`;
  }
  const table = (rc & 0x900) === 0x900 ? WARN_NAMES : (rc & 0x100) !== 0 ? VER1_NAMES : undefined;
  const name = table?.[rc & 0x7f] ?? ((rc & 0xc00) === 0 && rc < 0x100 ? 'TPM 1.2 / vendor' : 'unknown');
  return `${hex} (TPM_RC_${name})`;
}

/** One entry of a command's authorization area (Part 1 §18.7). */
export interface AuthCommand {
  readonly handle: number;
  readonly nonce: Uint8Array;
  readonly attributes: number;
  readonly hmac: Uint8Array;
}

/** The password session with the empty password (the AK's and the endorsement hierarchy's auth here). */
export const EMPTY_PASSWORD: AuthCommand = { handle: TPM_RS_PW, nonce: new Uint8Array(0), attributes: CONTINUE_SESSION, hmac: new Uint8Array(0) };

/** TPM_RC_YIELDED, TPM_RC_TESTING, TPM_RC_RETRY: the TPM asks for the same command again (ESAPI resubmits these too). */
const RESUBMIT = new Set([0x908, 0x90a, 0x922]);

/** Whether a response only asks for the command to be sent again. */
export function asksResubmit(response: Uint8Array): boolean {
  return response.length === 10 && RESUBMIT.has(((response[6]! << 24) | (response[7]! << 16) | (response[8]! << 8) | response[9]!) >>> 0);
}

/** A command: header (tag, size, code), handles, authorization area when there are sessions, parameters. */
export function marshalCommand(code: CommandName, handles: readonly number[], auths: readonly AuthCommand[], params: Uint8Array): Buffer {
  const body = new ByteWriter();
  for (const h of handles) body.u32be(h);
  if (auths.length > 0) {
    const area = new ByteWriter();
    for (const a of auths) area.u32be(a.handle).tpm2b(a.nonce).u8(a.attributes).tpm2b(a.hmac);
    const bytes = area.finish();
    body.u32be(bytes.length).bytes(bytes);
  }
  const rest = body.bytes(params).finish();
  return new ByteWriter().u16be(auths.length > 0 ? TPM_ST_SESSIONS : TPM_ST_NO_SESSIONS).u32be(10 + rest.length)
    .u32be(TPM_CC[code]).bytes(rest).finish();
}

/** The response's handles and parameter area, after checking the header and the response code. */
export interface ParsedResponse {
  readonly handles: number[];
  readonly params: ByteReader;
}

/**
 * Checks a response (tag, size equal to the bytes received, TPM_RC_SUCCESS) and returns its handles
 * and a reader over exactly its parameters (the response authorization area is skipped: the sessions
 * used here are password sessions and an unkeyed policy session, whose response HMACs are empty).
 */
export function parseResponse(command: CommandName, bytes: Uint8Array, handleCount: number, withSessions: boolean): ParsedResponse {
  return malformedAsTpmError(command, () => {
    const r = new ByteReader(bytes, `TPM2_${command} response`);
    const tag = r.u16be('tag');
    const size = r.u32be('responseSize');
    if (size !== bytes.length) r.fail(`responseSize ${size} but ${bytes.length} bytes received`, 2);
    const rc = r.u32be('responseCode');
    if (rc !== 0) throw new TpmResponseError(command, rc);
    const expected = withSessions ? TPM_ST_SESSIONS : TPM_ST_NO_SESSIONS;
    if (tag !== expected) r.fail(`tag 0x${tag.toString(16)} is not 0x${expected.toString(16)}`, 0);
    const handles = Array.from({ length: handleCount }, () => r.u32be('handle'));
    const params = withSessions ? r.sub(r.u32be('parameterSize'), `TPM2_${command} response parameters`) : r.sub(r.remaining, `TPM2_${command} response parameters`);
    return { handles, params };
  });
}

/** Runs a response parser; a ParseError (truncated or inconsistent bytes) becomes a TpmError naming the command. */
export function malformedAsTpmError<T>(command: CommandName, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isParseError(e)) throw new TpmError(`TPM2_${command}`, `malformed response: ${e.message}`);
    throw e;
  }
}

/** TPML_PCR_SELECTION in a fixed bank order (sha1, sha256, sha384), indices ascending, 3-byte bitmaps (PCRs 0-23). */
export function tpmlSelection(sel: PcrSelection): TpmlPcrSelection {
  return BANK_NAMES.filter((b) => (sel[b]?.length ?? 0) > 0)
    .map((bank) => ({ bank, sizeofSelect: 3, pcrs: [...new Set(sel[bank])].sort((x, y) => x - y) }));
}

// --- TPM2_PCR_Read --------------------------------------------------------------------------------

export function pcrReadCommand(sel: PcrSelection): Buffer {
  return marshalCommand('PCR_Read', [], [], marshalPcrSelection(tpmlSelection(sel)));
}

export interface PcrReadResult {
  readonly updateCounter: number;
  /** bank → index → value, for the PCRs the TPM returned (at most 8 per call). */
  readonly values: PcrValues<Buffer>;
  readonly count: number;
}

/** pcrUpdateCounter, pcrSelectionOut, pcrValues (TPML_DIGEST): digests in selection order, bank by bank. */
export function parsePcrReadResponse(bytes: Uint8Array): PcrReadResult {
  const { params: r } = parseResponse('PCR_Read', bytes, 0, false);
  return malformedAsTpmError('PCR_Read', () => {
    const updateCounter = r.u32be('pcrUpdateCounter');
    const selected = readPcrSelection(r).flatMap((s) => s.pcrs.map((i) => ({ bank: s.bank, index: i })));
    const countAt = r.offset;
    const count = r.u32be('pcrValues.count');
    if (count !== selected.length || count > MAX_PCR_READ_DIGESTS) r.fail(`${count} digests for ${selected.length} selected PCRs`, countAt);
    const values: PcrValues<Buffer> = {};
    for (const { bank, index } of selected) {
      if (!isBankName(bank)) return r.fail(`bank ${bank} was not asked for`, countAt);
      (values[bank] ??= {})[index] = Buffer.from(r.tpm2b('pcrValues.digest', 64));
    }
    r.expectEnd();
    return { updateCounter, values, count };
  });
}

// --- TPM2_Quote -----------------------------------------------------------------------------------

/** TPM2_Quote with the AK (empty-password session): its own scheme, SHA-256, the nonce as qualifyingData. */
export function quoteCommand(akHandle: number, akType: 'rsa' | 'ecc', nonce: Uint8Array, sel: PcrSelection): Buffer {
  const params = new ByteWriter().tpm2b(nonce).u16be(akType === 'rsa' ? TPM_ALG_RSASSA : TPM_ALG_ECDSA).u16be(TPM_ALG.SHA256)
    .bytes(marshalPcrSelection(tpmlSelection(sel))).finish();
  return marshalCommand('Quote', [akHandle], [EMPTY_PASSWORD], params);
}

/** quoted (TPM2B_ATTEST, returned without its size) and signature (TPMT_SIGNATURE, the rest of the parameters). */
export function parseQuoteResponse(bytes: Uint8Array): { quoted: Buffer; signature: Buffer } {
  const { params: r } = parseResponse('Quote', bytes, 0, true);
  return malformedAsTpmError('Quote', () => {
    const quoted = Buffer.from(r.tpm2b('quoted'));
    if (r.remaining < 2) r.fail('no signature');
    return { quoted, signature: Buffer.from(r.bytes(r.remaining, 'signature')) };
  });
}

// --- Credential activation ------------------------------------------------------------------------

/** An unsalted, unbound SHA-256 policy session without parameter encryption. */
export function startPolicySessionCommand(nonceCaller: Uint8Array): Buffer {
  const params = new ByteWriter().tpm2b(nonceCaller).tpm2b(new Uint8Array(0)).u8(TPM_SE_POLICY).u16be(TPM_ALG_NULL)
    .u16be(hashAlgId('sha256')).finish();
  return marshalCommand('StartAuthSession', [TPM_RH_NULL, TPM_RH_NULL], [], params);
}

/** The session handle (a policy session handle is 0x03xxxxxx); nonceTPM is not needed. */
export function parseStartAuthSessionResponse(bytes: Uint8Array): number {
  const { handles: [handle] } = parseResponse('StartAuthSession', bytes, 1, false);
  if (handle === undefined || handle >>> 24 !== 0x03) throw new TpmError('TPM2_StartAuthSession', `0x${(handle ?? 0).toString(16)} is not a policy session handle`);
  return handle;
}

/** PolicySecret(TPM_RH_ENDORSEMENT) with the endorsement hierarchy's empty password: the EK template's policy. */
export function policySecretEndorsementCommand(session: number): Buffer {
  const params = new ByteWriter().tpm2b(new Uint8Array(0)).tpm2b(new Uint8Array(0)).tpm2b(new Uint8Array(0)).u32be(0).finish();
  return marshalCommand('PolicySecret', [TPM_RH_ENDORSEMENT, session], [EMPTY_PASSWORD], params);
}

export function parsePolicySecretResponse(bytes: Uint8Array): void {
  parseResponse('PolicySecret', bytes, 0, true);
}

/**
 * ActivateCredential: the AK (activateHandle) with the empty password, the EK (keyHandle) with the
 * policy session. continueSession is clear, so the TPM flushes the session once the command succeeds.
 * The policy session is neither bound nor salted and its policy has no PolicyAuthValue, so its HMAC
 * key is empty and the empty HMAC is the valid one (Part 1 §19.6; Part 4 ComputeCommandHMAC).
 * `credentialBlob` and `secret` are the TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET with their sizes.
 */
export function activateCredentialCommand(o: { akHandle: number; ekHandle: number; session: number; nonceCaller: Uint8Array; credentialBlob: Uint8Array; secret: Uint8Array }): Buffer {
  const policy: AuthCommand = { handle: o.session, nonce: o.nonceCaller, attributes: 0, hmac: new Uint8Array(0) };
  return marshalCommand('ActivateCredential', [o.akHandle, o.ekHandle], [EMPTY_PASSWORD, policy],
    new ByteWriter().bytes(o.credentialBlob).bytes(o.secret).finish());
}

/** certInfo: the secret MakeCredential wrapped. */
export function parseActivateCredentialResponse(bytes: Uint8Array): Buffer {
  const { params: r } = parseResponse('ActivateCredential', bytes, 0, true);
  return malformedAsTpmError('ActivateCredential', () => {
    const secret = Buffer.from(r.tpm2b('certInfo', 64));
    r.expectEnd();
    return secret;
  });
}

export function flushContextCommand(handle: number): Buffer {
  return marshalCommand('FlushContext', [], [], new ByteWriter().u32be(handle).finish());
}

export function parseFlushContextResponse(bytes: Uint8Array): void {
  parseResponse('FlushContext', bytes, 0, false);
}

// --- TPM2_ReadPublic ------------------------------------------------------------------------------

export function readPublicCommand(handle: number): Buffer {
  return marshalCommand('ReadPublic', [handle], [], new Uint8Array(0));
}

/** outPublic as TPM2B_PUBLIC (with its size, as tpm2_readpublic -o writes it) and the name (without size, as -n writes it). */
export function parseReadPublicResponse(bytes: Uint8Array): { tpm2bPublic: Buffer; name: Buffer } {
  const { params: r } = parseResponse('ReadPublic', bytes, 0, false);
  return malformedAsTpmError('ReadPublic', () => {
    const tpm2bPublic = new ByteWriter().tpm2b(r.tpm2b('outPublic')).finish();
    const name = Buffer.from(r.tpm2b('name', 66));
    r.tpm2b('qualifiedName', 66);
    r.expectEnd();
    return { tpm2bPublic, name };
  });
}

/** Whether a ReadPublic failed because nothing is at the handle (TPM_RC_HANDLE on handle 1). */
export function isNoObjectAt(e: unknown): boolean {
  return e instanceof TpmResponseError && (e.rc & 0x8ff) === 0x08b;
}

// --- TPM2_GetCapability ---------------------------------------------------------------------------

const TPM_CAP_HANDLES = 0x00000001;
const TPM_CAP_TPM_PROPERTIES = 0x00000006;
/** First handles of the ranges tpm2_flushcontext -t / -l / -s empties: transient objects, loaded and saved sessions. */
export const HANDLE_RANGES = { transient: 0x80000000, loadedSessions: 0x02000000, savedSessions: 0x03000000 } as const;
/** TPM_PT_FIXED: the first fixed property (PT_FAMILY_INDICATOR); TPM_PT_MANUFACTURER and the firmware versions follow. */
export const TPM_PT_FIXED = 0x100;
const MAX_CAP_ITEMS = 64;

export function getCapabilityCommand(what: 'handles' | 'properties', first: number, count = MAX_CAP_ITEMS): Buffer {
  const params = new ByteWriter().u32be(what === 'handles' ? TPM_CAP_HANDLES : TPM_CAP_TPM_PROPERTIES).u32be(first).u32be(count).finish();
  return marshalCommand('GetCapability', [], [], params);
}

/** moreData and the handles of a TPM_CAP_HANDLES answer (TPML_HANDLE). */
export function parseHandlesResponse(bytes: Uint8Array): { moreData: boolean; handles: number[] } {
  const { params: r } = parseResponse('GetCapability', bytes, 0, false);
  return malformedAsTpmError('GetCapability', () => {
    const moreData = r.u8('moreData') !== 0;
    if (r.u32be('capability') !== TPM_CAP_HANDLES) r.fail('not a TPM_CAP_HANDLES answer');
    const count = r.u32be('count');
    if (count > MAX_CAP_ITEMS * 4) r.fail(`${count} handles`);
    const handles = Array.from({ length: count }, () => r.u32be('handle'));
    r.expectEnd();
    return { moreData, handles };
  });
}

/** The TPM_PT → value pairs of a TPM_CAP_TPM_PROPERTIES answer (TPML_TAGGED_TPM_PROPERTY). */
export function parsePropertiesResponse(bytes: Uint8Array): Map<number, number> {
  const { params: r } = parseResponse('GetCapability', bytes, 0, false);
  return malformedAsTpmError('GetCapability', () => {
    r.u8('moreData');
    if (r.u32be('capability') !== TPM_CAP_TPM_PROPERTIES) r.fail('not a TPM_CAP_TPM_PROPERTIES answer');
    const count = r.u32be('count');
    if (count > MAX_CAP_ITEMS * 4) r.fail(`${count} properties`);
    const props = new Map<number, number>();
    for (let i = 0; i < count; i++) props.set(r.u32be('property'), r.u32be('value'));
    r.expectEnd();
    return props;
  });
}

// --- NV reads (EK certificates) -------------------------------------------------------------------

export const TPM_RH_OWNER = 0x40000001;
const TPMA_NV_OWNERREAD = 1 << 17;
const TPMA_NV_AUTHREAD = 1 << 18;
/** Bytes per TPM2_NV_Read: every TPM's MAX_NV_BUFFER_SIZE is at least this (1024 on most). */
export const NV_READ_CHUNK = 512;

export function nvReadPublicCommand(index: number): Buffer {
  return marshalCommand('NV_ReadPublic', [index], [], new Uint8Array(0));
}

/**
 * The index's data size and the handle whose (empty) password authorises reading it: the index
 * itself when TPMA_NV_AUTHREAD is set, else the owner hierarchy when TPMA_NV_OWNERREAD is; undefined
 * when neither allows a read with the empty password.
 */
export function parseNvReadPublicResponse(index: number, bytes: Uint8Array): { size: number; authHandle: number | undefined } {
  const { params: r } = parseResponse('NV_ReadPublic', bytes, 0, false);
  return malformedAsTpmError('NV_ReadPublic', () => {
    const pub = r.sub(r.u16be('nvPublic.size'), 'TPMS_NV_PUBLIC');
    if (pub.u32be('nvIndex') !== index) pub.fail('another index answered');
    pub.u16be('nameAlg');
    const attributes = pub.u32be('attributes');
    pub.tpm2b('authPolicy', 64);
    const size = pub.u16be('dataSize');
    pub.expectEnd();
    r.tpm2b('nvName', 66);
    r.expectEnd();
    const authHandle = (attributes & TPMA_NV_AUTHREAD) !== 0 ? index : (attributes & TPMA_NV_OWNERREAD) !== 0 ? TPM_RH_OWNER : undefined;
    return { size, authHandle };
  });
}

export function nvReadCommand(authHandle: number, index: number, size: number, offset: number): Buffer {
  return marshalCommand('NV_Read', [authHandle, index], [EMPTY_PASSWORD], new ByteWriter().u16be(size).u16be(offset).finish());
}

/** The bytes read, exactly `size` of them. */
export function parseNvReadResponse(bytes: Uint8Array, size: number): Buffer {
  const { params: r } = parseResponse('NV_Read', bytes, 0, true);
  return malformedAsTpmError('NV_Read', () => {
    const data = r.tpm2b('data');
    if (data.length !== size) r.fail(`${data.length} bytes for ${size} asked`);
    r.expectEnd();
    return Buffer.from(data);
  });
}
