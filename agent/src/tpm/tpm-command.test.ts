import { seededRandom } from '@nodeward/attest/testing';
import {
  activateCredentialCommand, describeRc, nvReadCommand, parseNvReadPublicResponse, parseNvReadResponse, flushContextCommand, isNoObjectAt, parseActivateCredentialResponse, parsePcrReadResponse,
  parseQuoteResponse, parseReadPublicResponse, parseStartAuthSessionResponse, pcrReadCommand, policySecretEndorsementCommand,
  quoteCommand, startPolicySessionCommand, TpmResponseError,
} from './tpm-command.js';
import { TpmError } from './tpm-error.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A response: tag, size (computed), responseCode 0, then the body. */
const response = (tag: string, body: string): Buffer => {
  const b = hex(body);
  return Buffer.concat([hex(tag), hex((10 + b.length).toString(16).padStart(8, '0')), hex('00000000'), b]);
};
const PW = '40000009 0000 01 0000'; // TPM_RS_PW, empty nonce, continueSession, empty password

describe('TPM command marshalling', () => {
  it.each([
    ['PCR_Read of sha1:10 and sha256:0,7', pcrReadCommand({ sha256: [7, 0, 7], sha1: [10] }),
      '8001 0000001a 0000017e' + // NO_SESSIONS, size 26, TPM_CC_PCR_Read
      '00000002 0004 03 000400 000b 03 810000'], // 2 banks: sha1 {10}, sha256 {0,7} (bank order fixed, indices deduplicated)
    ['Quote with the RSA AK', quoteCommand(0x81010002, 'rsa', hex('aabb'), { sha256: [23] }),
      '8002 0000002d 00000158 81010002' + // SESSIONS, size 45, TPM_CC_Quote, signHandle
      '00000009' + PW + // authorizationSize 9, the empty password
      '0002 aabb 0014 000b' + // qualifyingData, inScheme RSASSA / SHA-256
      '00000001 000b 03 000080'], // PCR 23 of sha256
    ['Quote with an ECC AK', quoteCommand(0x81010003, 'ecc', hex('01'), { sha1: [0] }),
      '8002 0000002c 00000158 81010003 00000009' + PW + '0001 01 0018 000b 00000001 0004 03 010000'],
    ['StartAuthSession: policy, unsalted, unbound, no symmetric, SHA-256', startPolicySessionCommand(Buffer.alloc(16, 0xcc)),
      '8001 0000002b 00000176 40000007 40000007' + // tpmKey and bind TPM_RH_NULL
      '0010' + 'cc'.repeat(16) + '0000 01 0010 000b'], // nonceCaller, no salt, TPM_SE_POLICY, TPM_ALG_NULL, SHA-256
    ['PolicySecret(TPM_RH_ENDORSEMENT)', policySecretEndorsementCommand(0x03000000),
      '8002 00000029 00000151 4000000b 03000000 00000009' + PW + '0000 0000 0000 00000000'],
    ['ActivateCredential: AK by password, EK by the policy session (continueSession clear, empty HMAC)',
      activateCredentialCommand({ akHandle: 0x81010002, ekHandle: 0x81010001, session: 0x03000001, nonceCaller: hex('5555'),
        credentialBlob: hex('0002 abcd'), secret: hex('0001 ef') }),
      '8002 00000031 00000147 81010002 81010001 00000014' + PW + '03000001 0002 5555 00 0000' + '0002abcd 0001ef'],
    ['FlushContext: the handle is a parameter', flushContextCommand(0x03000001), '8001 0000000e 00000165 03000001'],
  ])('%s', (_what, bytes, expected) => {
    expect(bytes.toString('hex')).toBe(hex(expected).toString('hex'));
  });
});

describe('TPM response parsing', () => {
  it('reads PCR_Read: update counter, the selection returned and one digest per selected PCR in order', () => {
    const r = parsePcrReadResponse(response('8001', '0000002a' + // pcrUpdateCounter 42
      '00000002 0004 03 000400 000b 03 010000' + // sha1 {10}, sha256 {0}
      '00000002 0014' + '11'.repeat(20) + '0020' + '22'.repeat(32)));
    expect(r).toEqual({ updateCounter: 42, count: 2, values: { sha1: { 10: hex('11'.repeat(20)) }, sha256: { 0: hex('22'.repeat(32)) } } });
  });
  it.each([
    ['fewer digests than selected PCRs', '00000001 00000001 000b 03 030000 00000001 0020' + '00'.repeat(32)],
    ['a digest past the end', '00000001 00000001 000b 03 010000 00000001 0020' + '00'.repeat(31)],
    ['trailing bytes', '00000001 00000001 000b 03 010000 00000001 0001 00 ff'],
    ['a bank not asked for', '00000001 00000001 000d 03 010000 00000001 0001 00'],
  ])('refuses a PCR_Read response with %s as a TpmError', (_what, body) => {
    expect(() => parsePcrReadResponse(response('8001', body))).toThrow(TpmError);
  });
  it('splits a Quote response into TPMS_ATTEST and TPMT_SIGNATURE', () => {
    const r = parseQuoteResponse(response('8002', '0000000c' + // parameterSize 12
      '0003 ff5443' + '0014 000b 0001 99' + // quoted (3 bytes), signature RSASSA SHA-256 (1 byte)
      '0000 01 0000')); // the password session's response
    expect(r.quoted.toString('hex')).toBe('ff5443');
    expect(r.signature.toString('hex')).toBe('0014000b000199');
  });
  it('reads ActivateCredential certInfo and StartAuthSession handle', () => {
    expect(parseActivateCredentialResponse(response('8002', '00000004 0002 abcd 0000 01 0000 0000 00 0000')).toString('hex')).toBe('abcd');
    expect(parseStartAuthSessionResponse(response('8001', '03000002 0010' + '00'.repeat(16)))).toBe(0x03000002);
    expect(() => parseStartAuthSessionResponse(response('8001', '02000002 0000'))).toThrow(/not a policy session handle/);
  });
  it('reads ReadPublic: TPM2B_PUBLIC with its size, the Name without', () => {
    const r = parseReadPublicResponse(response('8001', '0004 00010203 0003 000b01 0000'));
    expect(r.tpm2bPublic.toString('hex')).toBe('000400010203');
    expect(r.name.toString('hex')).toBe('000b01');
  });
  it.each([
    ['AUTHREAD: the index authorises its own read', '00060004', 0x01c00002],
    ['only OWNERREAD: the owner hierarchy authorises it', '00020004', 0x40000001],
    ['PPREAD only: no read with an empty password here', '00010004', undefined],
  ])('reads NV_ReadPublic (%s)', (_what, attrs, auth) => {
    const r = parseNvReadPublicResponse(0x01c00002, response('8001', '000e 01c00002 000b' + attrs + '0000 0500' + '0002 0000'));
    expect(r).toEqual({ size: 0x500, authHandle: auth });
    expect(() => parseNvReadPublicResponse(0x01c0000a, response('8001', '000e 01c00002 000b' + attrs + '0000 0500' + '0002 0000'))).toThrow(/another index/);
  });
  it('marshals NV_Read with the empty password and checks the size read', () => {
    expect(nvReadCommand(0x01c00002, 0x01c00002, 512, 1024).toString('hex')).toBe(hex('8002 00000023 0000014e 01c00002 01c00002 00000009' + PW + '0200 0400').toString('hex'));
    expect(parseNvReadResponse(response('8002', '00000004 0002 3082 0000 01 0000'), 2).toString('hex')).toBe('3082');
    expect(() => parseNvReadResponse(response('8002', '00000004 0002 3082 0000 01 0000'), 3)).toThrow(TpmError);
  });
  it('turns a response code into a TpmResponseError naming the command and the code', () => {
    const bad = Buffer.from('80010000000a0000098e', 'hex');
    let caught: unknown;
    try {
      parseActivateCredentialResponse(bad);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TpmResponseError);
    expect(caught).toBeInstanceOf(TpmError);
    expect(caught).toMatchObject({ code: 'TpmError', tool: 'TPM2_ActivateCredential', rc: 0x98e });
    expect((caught as Error).message).toBe('TPM2_ActivateCredential: TPM returned 0x98e (TPM_RC_AUTH_FAIL, session 1)');
  });
  it.each([
    [0x18b, '0x18b (TPM_RC_HANDLE, handle 1)'],
    [0x1c4, '0x1c4 (TPM_RC_VALUE, parameter 1)'],
    [0x9a2, '0x9a2 (TPM_RC_BAD_AUTH, session 1)'],
    [0x902, '0x902 (TPM_RC_OBJECT_MEMORY)'],
    [0x128, '0x128 (TPM_RC_PCR_CHANGED)'],
    [0x101, '0x101 (TPM_RC_FAILURE)'],
  ])('describes rc %i', (rc, text) => {
    expect(describeRc(rc)).toBe(text);
  });
  it('tells an empty handle from other failures', () => {
    expect(isNoObjectAt(new TpmResponseError('ReadPublic', 0x18b))).toBe(true);
    expect(isNoObjectAt(new TpmResponseError('ReadPublic', 0x1cb))).toBe(false); // HANDLE, but on parameter 1
    expect(isNoObjectAt(new TpmResponseError('ReadPublic', 0x98e))).toBe(false);
    expect(isNoObjectAt(new TpmError('tcti', 'closed'))).toBe(false);
  });
  it.each([
    ['a size that is not the bytes received', Buffer.from('80010000000b00000000', 'hex')],
    ['a truncated header', Buffer.from('800100', 'hex')],
    ['the wrong tag', response('8002', '00000000')],
    ['a parameterSize past the end', response('8002', '000000ff 00')],
  ])('refuses %s as a TpmError', (_what, bytes) => {
    expect(() => parseQuoteResponse(bytes)).toThrow(TpmError);
  });
  it('lets nothing but TpmError escape from random responses', () => {
    const rand = seededRandom(7);
    const parsers = [(b: Buffer) => parseNvReadPublicResponse(1, b), (b: Buffer) => parseNvReadResponse(b, 4), parsePcrReadResponse, parseQuoteResponse, parseActivateCredentialResponse, parseStartAuthSessionResponse, parseReadPublicResponse];
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rand() * 80);
      const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
      if (len >= 10 && rand() < 0.7) { bytes.writeUInt32BE(len, 2); bytes.writeUInt32BE(0, 6); bytes.writeUInt16BE(rand() < 0.5 ? 0x8001 : 0x8002, 0); }
      for (const parse of parsers) {
        try {
          parse(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(TpmError);
        }
      }
    }
  });
});
