import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { verifyAkAttributes } from './ak-attributes.js';
import { marshalAttest, parseAttest, unwrapAttest } from './attest.js';
import { ALG, ECC_CURVE, TPM_GENERATED_VALUE, TPM_ST, TPMA_OBJECT } from './constants.js';
import { decodeCredentialFile, encodeCredentialFile } from './credential-file.js';
import { publicKeyObject } from './key-object.js';
import { tpmObjectName } from './name.js';
import { marshalPcrSelection, parsePcrSelection, pcrSelection } from './pcr-selection.js';
import { parsePcrYaml } from './pcr-yaml.js';
import { marshalPublic, parsePublic, type EccPublic, type RsaPublic } from './public.js';
import { quotePcrsFromWire } from './quote-pcrs.js';
import { detectReboot } from './reboot.js';
import { marshalSignature, parseSignature } from './signature.js';
import { verifyQuote } from './verify-quote.js';

/** Byte tables, hostile inputs and a seeded fuzz for the TPM structure parsers. */

/** Hand-built TPM structures shared by the unit and fuzz tests; every field is commented. */

const hex = (...parts: string[]): Buffer => Buffer.from(parts.join(''), 'hex');

/** TPMS_ATTEST of a quote over sha256 PCRs 0 and 10. */
const QUOTE_ATTEST = hex(
  'ff544347', //          magic TPM_GENERATED_VALUE
  '8018', //              type TPM_ST_ATTEST_QUOTE
  '0004', '000b1122', //  qualifiedSigner: TPM2B_NAME, 4 bytes
  '0002', 'aabb', //      extraData: the nonce, 2 bytes
  '0000000000001616', //  clockInfo.clock
  '00000002', //          clockInfo.resetCount
  '00000003', //          clockInfo.restartCount
  '01', //                clockInfo.safe = YES
  '2019102300163636', //  firmwareVersion
  '00000001', //          pcrSelect.count = 1 bank
  '000b', '03', '010400', // sha256, sizeofSelect 3, bitmap: PCR 0 (byte 0 bit 0), PCR 10 (byte 1 bit 2)
  '0020', 'cc'.repeat(32), // pcrDigest: TPM2B_DIGEST, 32 bytes
);

/** TPMS_ATTEST of TPM2_Certify. */
const CERTIFY_ATTEST = hex(
  'ff544347', '8017', //  magic, TPM_ST_ATTEST_CERTIFY
  '0000', //              qualifiedSigner empty
  '0000', //              extraData empty
  '0000000000000001', '00000000', '00000000', '00', // clockInfo: clock 1, counts 0, safe NO
  '0000000000000000', //  firmwareVersion
  '0002', '0004', //      name: 2 bytes (a bare alg id is not a real Name; the parser does not care)
  '0002', '0005', //      qualifiedName
);

/** TPMS_ATTEST of TPM2_GetTime: kept raw. */
const TIME_ATTEST = hex('ff544347', '8019', '0000', '0000', '0000000000000001', '00000000', '00000000', '01', '0000000000000000', 'deadbeef');

const SIG_RSASSA = hex('0014', '000b', '0004', 'deadbeef'); // RSASSA, SHA-256, sig TPM2B (4 bytes)
const SIG_RSAPSS = hex('0016', '000c', '0002', 'cafe'); //      RSAPSS, SHA-384, sig TPM2B (2 bytes)
const SIG_ECDSA = hex('0018', '000b', '0002', '0102', '0003', '030405'); // ECDSA, SHA-256, r (2), s (3)
const SIG_HMAC = hex('0005', '0004', '11'.repeat(20)); //      HMAC, SHA-1, TPMT_HA digest (20, no size)
const SIG_NULL = hex('0010'); //                               TPM_ALG_NULL: no signature

/** TPM2B_PUBLIC of an RSA AK: restricted signing, RSASSA-SHA256, 4-byte toy modulus. */
const PUB_RSA_AK = hex(
  '001a', //              size of TPMT_PUBLIC = 26
  '0001', //              type TPM_ALG_RSA
  '000b', //              nameAlg SHA-256
  '00050072', //          objectAttributes: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign
  '0000', //              authPolicy empty
  '0010', //              symmetric TPM_ALG_NULL
  '0014', '000b', //      scheme RSASSA, SHA-256
  '0800', //              keyBits 2048
  '00000000', //          exponent 0 = 65537
  '0002', '8001', //      unique.rsa: 2 bytes
);

/** TPM2B_PUBLIC of an RSA EK: restricted decrypt, AES-128-CFB, policy digest, no scheme. */
const PUB_RSA_EK = hex(
  '003a', //              size = 58
  '0001', '000b', //      RSA, SHA-256
  '000300b2', //          fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt
  '0020', '83'.repeat(32), // authPolicy (32 bytes)
  '0006', '0080', '0043', // symmetric AES, 128 bits, CFB
  '0010', //              scheme NULL
  '0800', '00000000', //  keyBits 2048, exponent default
  '0000', //              unique.rsa empty (a template)
);

/** TPM2B_PUBLIC of an ECC P-256 ECDSA AK with a KDF, toy coordinates. */
const PUB_ECC_AK = hex(
  '001c', //              size = 28
  '0023', '000b', //      ECC, SHA-256
  '00050072', //          AK attributes
  '0000', //              authPolicy empty
  '0010', //              symmetric NULL
  '0018', '000b', //      scheme ECDSA SHA-256
  '0003', //              curveID NIST P-256
  '0020', '000b', //      kdf KDF1_SP800_56A SHA-256
  '0001', '01', //        unique.x (1 byte)
  '0001', '02', //        unique.y (1 byte)
);

/** TPML_PCR_SELECTION with three banks, as tpm2_quote -l sha1:0,1,10+sha256:0,10+sha384:10 sends. */
const PCR_SEL_3 = hex(
  '00000003', //          count
  '0004', '03', '030400', // sha1: PCRs 0, 1, 10
  '000b', '03', '010400', // sha256: PCRs 0, 10
  '000c', '03', '000400', // sha384: PCR 10
);

const CRED_FILE = hex('badcc0de', '00000001', '0004', '01020304', '0002', '0506'); // magic, version, ID object, secret

type Parser = (b: Uint8Array) => unknown;
type Marshal = (v: never) => Uint8Array;

const PARSERS: [string, Parser, Marshal, Buffer[]][] = [
  ['TPMS_ATTEST', parseAttest, marshalAttest, [QUOTE_ATTEST, CERTIFY_ATTEST]],
  ['TPMT_SIGNATURE', parseSignature, marshalSignature, [SIG_RSASSA, SIG_RSAPSS, SIG_ECDSA, SIG_HMAC, SIG_NULL]],
  ['TPM2B_PUBLIC', parsePublic, marshalPublic, [PUB_RSA_AK, PUB_RSA_EK, PUB_ECC_AK]],
  ['TPML_PCR_SELECTION', parsePcrSelection, marshalPcrSelection, [PCR_SEL_3, hex('00000000')]],
  ['credential file', decodeCredentialFile, encodeCredentialFile, [CRED_FILE]],
];

function parseErrorOf(f: () => unknown): ParseError {
  try {
    f();
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error('expected a ParseError');
}

describe('TPMS_ATTEST', () => {
  it('decodes a quote field by field', () => {
    expect(parseAttest(QUOTE_ATTEST)).toEqual({
      magic: 0xff544347,
      type: 0x8018,
      qualifiedSigner: hex('000b1122'),
      extraData: hex('aabb'),
      clockInfo: { clock: 0x1616n, resetCount: 2, restartCount: 3, safe: true },
      firmwareVersion: 0x2019102300163636n,
      attested: { kind: 'quote', pcrSelect: [{ bank: 'sha256', sizeofSelect: 3, pcrs: [0, 10] }], pcrDigest: Buffer.alloc(32, 0xcc) },
    });
  });

  it('decodes a certify and keeps other types raw', () => {
    expect(parseAttest(CERTIFY_ATTEST).attested).toEqual({ kind: 'certify', name: hex('0004'), qualifiedName: hex('0005') });
    expect(parseAttest(TIME_ATTEST).attested).toEqual({ kind: 'other', raw: hex('deadbeef') });
    expect(marshalAttest(parseAttest(TIME_ATTEST))).toEqual(TIME_ATTEST);
    // Kept raw, so only the common header can be truncated.
    for (let n = 0; n < 35; n++) expect(() => parseAttest(TIME_ATTEST.subarray(0, n))).toThrow(ParseError);
  });

  it('unwraps a TPM2B_ATTEST size prefix and leaves bare bytes alone', () => {
    const wrapped = Buffer.concat([hex(QUOTE_ATTEST.length.toString(16).padStart(4, '0')), QUOTE_ATTEST]);
    expect(unwrapAttest(wrapped)).toEqual(QUOTE_ATTEST);
    expect(unwrapAttest(QUOTE_ATTEST)).toBe(QUOTE_ATTEST);
  });

  it.each([
    // [what, bytes, structure offset of the failure]
    ['unknown attestation type 0x8099', hex('ff544347', '8099', QUOTE_ATTEST.subarray(6).toString('hex')), 4],
    ['qualifiedSigner larger than a Name (67)', hex('ff544347', '8018', '0043', '00'.repeat(67)), 6],
    ['extraData larger than a digest (65)', hex('ff544347', '8018', '0000', '0041', '00'.repeat(65)), 8],
    ['size 0xffff with 2 bytes behind it', hex('ff544347', '8018', 'ffff', '0000'), 6],
    ['clockInfo.safe = 2', Buffer.from(QUOTE_ATTEST).fill(2, 32, 33), 32],
    ['pcrSelect.count = 17 banks', Buffer.concat([QUOTE_ATTEST.subarray(0, 41), hex('00000011')]), 41],
    ['unknown PCR bank hash 0x0099', Buffer.from(QUOTE_ATTEST).fill(0x99, 46, 47), 45],
    ['sizeofSelect 33', Buffer.from(QUOTE_ATTEST).fill(33, 47, 48), 47],
    ['one trailing byte', Buffer.concat([QUOTE_ATTEST, hex('00')]), QUOTE_ATTEST.length],
  ])('rejects %s', (_what, bytes, offset) => {
    const e = parseErrorOf(() => parseAttest(bytes));
    expect(e.structure).toBe('TPMS_ATTEST');
    expect(e.offset).toBe(offset);
  });
});

describe('TPMT_SIGNATURE', () => {
  it.each([
    ['RSASSA', SIG_RSASSA, { scheme: 'rsassa', hashAlg: 'sha256', sig: hex('deadbeef') }],
    ['RSAPSS', SIG_RSAPSS, { scheme: 'rsapss', hashAlg: 'sha384', sig: hex('cafe') }],
    ['ECDSA', SIG_ECDSA, { scheme: 'ecdsa', hashAlg: 'sha256', r: hex('0102'), s: hex('030405') }],
    ['HMAC', SIG_HMAC, { scheme: 'hmac', hashAlg: 'sha1', digest: Buffer.alloc(20, 0x11) }],
    ['NULL', SIG_NULL, { scheme: 'null' }],
  ])('decodes %s', (_n, bytes, expected) => {
    expect(parseSignature(bytes)).toEqual(expected);
  });

  it.each([
    ['unknown signature algorithm', hex('0099', '000b'), 0],
    ['unknown hash algorithm', hex('0014', '0099', '0000'), 2],
    ['SM3 hash (not computable here)', hex('0014', '0012', '0000'), 2],
    ['RSA signature over 512 bytes', hex('0014', '000b', '0201', '00'.repeat(513)), 4],
    ['ECDSA r over 66 bytes', hex('0018', '000b', '0043', '00'.repeat(67), '0000'), 4],
    ['missing s', hex('0018', '000b', '0001', '01'), 7],
    ['trailing byte', hex(SIG_RSASSA.toString('hex'), '00'), SIG_RSASSA.length],
  ])('rejects %s', (_what, bytes, offset) => {
    expect(parseErrorOf(() => parseSignature(bytes)).offset).toBe(offset);
  });
});

describe('TPM2B_PUBLIC', () => {
  it('decodes an RSA AK', () => {
    expect(parsePublic(PUB_RSA_AK)).toEqual({
      type: 'rsa', nameAlg: 'sha256', objectAttributes: 0x00050072, authPolicy: hex(''), symmetric: null,
      scheme: { scheme: ALG.RSASSA, hashAlg: 'sha256' }, keyBits: 2048, exponent: 0, modulus: hex('8001'), raw: PUB_RSA_AK.subarray(2),
    });
  });

  it('decodes an RSA EK template with AES-128-CFB and a policy', () => {
    expect(parsePublic(PUB_RSA_EK)).toMatchObject({
      type: 'rsa', objectAttributes: 0x000300b2, authPolicy: Buffer.alloc(32, 0x83),
      symmetric: { algorithm: ALG.AES, keyBits: 128, mode: ALG.CFB }, scheme: null, modulus: hex(''),
    });
  });

  it('decodes an ECC AK', () => {
    expect(parsePublic(PUB_ECC_AK)).toMatchObject({
      type: 'ecc', scheme: { scheme: ALG.ECDSA, hashAlg: 'sha256' }, curveId: ECC_CURVE.NIST_P256,
      kdf: { scheme: ALG.KDF1_SP800_56A, hashAlg: 'sha256' }, x: hex('01'), y: hex('02'),
    });
  });

  it('names an object nameAlg || H(TPMT_PUBLIC), from bytes or parsed', () => {
    const expected = Buffer.concat([hex('000b'), createHash('sha256').update(PUB_RSA_AK.subarray(2)).digest()]);
    expect(tpmObjectName(PUB_RSA_AK.subarray(2))).toEqual(expected);
    expect(tpmObjectName(parsePublic(PUB_RSA_AK))).toEqual(expected);
    expect(parseErrorOf(() => tpmObjectName(hex('0001', '0099'))).offset).toBe(2);
  });

  it.each([
    ['size 0', hex('0000'), 0],
    ['size beyond the buffer', hex('0100', '0001'), 2],
    ['keyedhash object type', hex('0004', '0008', '000b'), 2],
    ['unknown nameAlg', hex('0004', '0001', '0099'), 4],
    ['unknown symmetric algorithm', Buffer.from(PUB_RSA_EK).fill(0x77, 45, 46), 44],
    ['unknown symmetric mode', Buffer.from(PUB_RSA_EK).fill(0x77, 49, 50), 48],
    ['unknown RSA scheme', Buffer.from(PUB_RSA_AK).fill(0x77, 15, 16), 14],
    ['modulus over 512 bytes', hex('0219', PUB_RSA_AK.subarray(2, 24).toString('hex'), '0201', '00'.repeat(513)), 24],
    ['ECC x over 66 bytes', hex('005d', PUB_ECC_AK.subarray(2, 24).toString('hex'), '0043', '00'.repeat(67), '0000'), 24],
    ['trailing byte inside the TPM2B', hex('001b', PUB_RSA_AK.subarray(2).toString('hex'), '00'), 28],
    ['trailing byte after the TPM2B', hex(PUB_RSA_AK.toString('hex'), '00'), 28],
  ])('rejects %s', (_what, bytes, offset) => {
    expect(parseErrorOf(() => parsePublic(bytes)).offset).toBe(offset);
  });
});


describe('publicKeyObject', () => {
  const base = { nameAlg: 'sha256', objectAttributes: 0, authPolicy: hex(''), symmetric: null, scheme: null, raw: hex('') } as const;
  const jwkOf = (k: KeyObject): Record<string, unknown> => k.export({ format: 'jwk' });

  it.each([[2048, 65537], [2048, 3]])('RSA-%i with exponent %i (0 meaning 65537)', (bits, e) => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: e });
    const jwk = jwkOf(publicKey);
    const pub: RsaPublic = { ...base, type: 'rsa', keyBits: bits, exponent: e === 65537 ? 0 : e, modulus: Buffer.from(jwk.n as string, 'base64url') };
    expect(publicKeyObject(pub).equals(publicKey)).toBe(true);
  });

  it.each([['P-256', ECC_CURVE.NIST_P256], ['P-384', ECC_CURVE.NIST_P384], ['P-521', ECC_CURVE.NIST_P521]] as const)('ECC %s', (crv, curveId) => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: crv });
    const jwk = jwkOf(publicKey);
    const pub: EccPublic = { ...base, type: 'ecc', curveId, kdf: null, x: Buffer.from(jwk.x as string, 'base64url'), y: Buffer.from(jwk.y as string, 'base64url') };
    expect(publicKeyObject(pub).equals(publicKey)).toBe(true);
  });

  it.each([
    ['a toy modulus', (): RsaPublic => ({ ...base, type: 'rsa', keyBits: 2048, exponent: 0, modulus: hex('8001') })],
    ['keyBits 1000', (): RsaPublic => ({ ...base, type: 'rsa', keyBits: 1000, exponent: 0, modulus: Buffer.alloc(125, 0xff) })],
    ['a point off the curve', (): EccPublic => ({ ...base, type: 'ecc', curveId: ECC_CURVE.NIST_P256, kdf: null, x: hex('01'), y: hex('02') })],
    ['an unknown curve (BN P-256)', (): EccPublic => ({ ...base, type: 'ecc', curveId: 0x0010, kdf: null, x: hex('01'), y: hex('02') })],
  ])('rejects %s with a ParseError', (_n, pub) => {
    expect(parseErrorOf(() => publicKeyObject(pub())).structure).toBe('TPMT_PUBLIC');
  });
});

describe('TPML_PCR_SELECTION', () => {
  it.each([
    ['no banks', hex('00000000'), []],
    ['three banks in tpm2_quote order', PCR_SEL_3, [
      { bank: 'sha1', sizeofSelect: 3, pcrs: [0, 1, 10] },
      { bank: 'sha256', sizeofSelect: 3, pcrs: [0, 10] },
      { bank: 'sha384', sizeofSelect: 3, pcrs: [10] },
    ]],
    ['sizeofSelect 0 (a bank with nothing selected)', hex('00000001', '000d', '00'), [{ bank: 'sha512', sizeofSelect: 0, pcrs: [] }]],
    ['sizeofSelect 4: PCR 31', hex('00000001', '000b', '04', '00000080'), [{ bank: 'sha256', sizeofSelect: 4, pcrs: [31] }]],
  ])('decodes and re-encodes %s', (_n, bytes, expected) => {
    expect(parsePcrSelection(bytes)).toEqual(expected);
    expect(marshalPcrSelection(parsePcrSelection(bytes))).toEqual(bytes);
  });

  it('builds a selection from indices', () => {
    expect(marshalPcrSelection(pcrSelection({ sha1: [10, 0, 1], sha256: [0, 10], sha384: [10] }))).toEqual(PCR_SEL_3);
  });

  it.each([
    ['count 0xffffffff', hex('ffffffff'), 0],
    ['count 2 with one bank', hex('00000002', '000b', '03', '000000'), 10],
    ['bitmap shorter than sizeofSelect', hex('00000001', '000b', '03', '00'), 7],
    ['SM3 bank', hex('00000001', '0012', '03', '000000'), 4],
  ])('rejects %s', (_n, bytes, offset) => {
    expect(parseErrorOf(() => parsePcrSelection(bytes)).offset).toBe(offset);
  });
});

describe('marshal(parse(x)) and truncation for every sample', () => {
  const samples = PARSERS.flatMap(([name, parse, marshal, list]) => list.map((b, i) => [`${name} #${i}`, parse, marshal, b] as const));

  it.each(samples)('%s round-trips', (_n, parse, marshal, bytes) => {
    expect(Buffer.from(marshal(parse(bytes) as never))).toEqual(bytes);
  });

  it.each(samples)('%s truncated at every offset throws ParseError', (_n, parse, _m, bytes) => {
    for (let n = 0; n < bytes.length; n++) {
      expect(() => parse(bytes.subarray(0, n))).toThrow(ParseError);
    }
  });
});

describe('credential file', () => {
  it('decodes magic, version, TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (sizes included)', () => {
    expect(decodeCredentialFile(CRED_FILE)).toEqual({ credentialBlob: hex('0004', '01020304'), encryptedSecret: hex('0002', '0506') });
  });
  it.each([
    ['bad magic', hex('badcc0df', '00000001', '0000', '0000'), 0],
    ['version 2', hex('badcc0de', '00000002', '0000', '0000'), 4],
    ['trailing byte', hex(CRED_FILE.toString('hex'), '00'), CRED_FILE.length],
  ])('rejects %s', (_n, bytes, offset) => {
    expect(parseErrorOf(() => decodeCredentialFile(bytes)).offset).toBe(offset);
  });
});

describe('parsePcrYaml', () => {
  const PCRREAD = `  sha1:\n    0 : 0x${'00'.repeat(20)}\n    10: 0x${'AB'.repeat(20)}\n  sha256:\n    10: 0x${'cd'.repeat(32)}\n`;
  const QUOTE_OUT = `quoted: ff54\nsignature:\n  alg: rsassa\n  sig: 0011\npcrs:\n${PCRREAD}calcDigest: 1234\n`;

  it.each([['tpm2_pcrread output', PCRREAD], ['tpm2_quote output', QUOTE_OUT], ['CRLF lines', PCRREAD.replace(/\n/g, '\r\n')]])('reads %s', (_n, text) => {
    expect(parsePcrYaml(text)).toEqual({ sha1: { 0: Buffer.alloc(20), 10: Buffer.alloc(20, 0xab) }, sha256: { 10: Buffer.alloc(32, 0xcd) } });
  });

  it.each([
    ['a value before any bank', `10: 0x${'00'.repeat(20)}\n`],
    ['a value of the wrong length', `sha256:\n  10: 0x${'00'.repeat(20)}\n`],
    ['a repeated index', `sha1:\n  1: 0x${'00'.repeat(20)}\n  1: 0x${'00'.repeat(20)}\n`],
    ['a repeated bank', `sha1:\nsha1:\n`],
    ['an unknown bank', `md5:\n  1: 0x${'00'.repeat(16)}\n`],
    ['index 32', `sha1:\n  32: 0x${'00'.repeat(20)}\n`],
    ['a stray line', `sha1:\n  hello\n`],
    ['nothing', ''],
    ['tpm2_quote output without a pcrs section', 'quoted: ff54\n'],
  ])('rejects %s', (_n, text) => {
    expect(() => parsePcrYaml(text)).toThrow(ParseError);
  });
});

describe('quotePcrsFromWire', () => {
  it('decodes hex values', () => {
    expect(quotePcrsFromWire({ sha256: { '10': 'cd'.repeat(32) } })).toEqual({ sha256: { 10: Buffer.alloc(32, 0xcd) } });
  });
  it.each([
    [{ md5: {} }], [{ sha1: { '24': '00'.repeat(20) } }], [{ sha1: { '1': '0'.repeat(40 - 1) } }], [{ sha1: { '1': 'zz'.repeat(20) } }],
  ])('rejects %j', (pcrs) => {
    expect(() => quotePcrsFromWire(pcrs as never)).toThrow(ParseError);
  });
});

describe('detectReboot', () => {
  const c = (resetCount: number, restartCount: number, clock: bigint) => ({ clock, resetCount, restartCount, safe: true });
  it.each([
    ['same boot, clock forward', c(2, 0, 10n), c(2, 0, 20n), { rebooted: false, resumed: false }],
    ['reboot', c(2, 0, 10n), c(3, 0, 5n), { rebooted: true, resumed: false }],
    ['resume', c(2, 0, 10n), c(2, 1, 5n), { rebooted: false, resumed: true }],
  ])('%s', (_n, a, b, expected) => {
    expect(detectReboot(a, b)).toEqual(expected);
  });
  it.each([
    ['resetCount back', c(3, 0, 10n), c(2, 0, 20n), 'quote.reset_count_regressed'],
    ['restartCount back', c(2, 2, 10n), c(2, 1, 20n), 'quote.restart_count_regressed'],
    ['clock back in one boot', c(2, 0, 10n), c(2, 0, 9n), 'quote.clock_regressed'],
  ])('%s is a failure', (_n, a, b, id) => {
    expect(detectReboot(a, b).failure?.id).toBe(id);
  });
});

describe('verifyAkAttributes', () => {
  const withAttrs = (attrs: number): Buffer => {
    const b = Buffer.from(PUB_RSA_AK);
    b.writeUInt32BE(attrs >>> 0, 6);
    return b;
  };
  const AK = 0x00050072;
  it.each([
    ['a proper AK', AK, []],
    ['not restricted', AK & ~TPMA_OBJECT.restricted, ['identity.ak_not_restricted']],
    ['not fixedTPM', AK & ~TPMA_OBJECT.fixedTPM, ['identity.ak_not_fixed_tpm']],
    ['not fixedParent', AK & ~TPMA_OBJECT.fixedParent, ['identity.ak_not_fixed_parent']],
    ['imported (no sensitiveDataOrigin)', AK & ~TPMA_OBJECT.sensitiveDataOrigin, ['identity.ak_not_sensitive_data_origin']],
    ['also decrypt', AK | TPMA_OBJECT.decrypt, ['identity.ak_decrypt']],
    ['a decrypt-only key', (AK & ~TPMA_OBJECT.sign) | TPMA_OBJECT.decrypt, ['identity.ak_not_signing', 'identity.ak_decrypt']],
  ])('%s', (_n, attrs, ids) => {
    expect(verifyAkAttributes(withAttrs(attrs)).map((f) => f.id)).toEqual(ids);
  });
  it('reports a malformed AK', () => {
    expect(verifyAkAttributes(hex('00')).map((f) => f.id)).toEqual(['identity.ak_malformed']);
  });
});

describe('verifyQuote on malformed input', () => {
  it.each([
    ['AK', { akPublic: hex('0000') }, 'TPM2B_PUBLIC'],
    ['quoted', { quoted: hex('ff') }, 'TPMS_ATTEST'],
    ['signature', { signature: hex('0099') }, 'TPMT_SIGNATURE'],
    ['AK with a toy modulus', { akPublic: PUB_RSA_AK }, 'TPMT_PUBLIC'],
  ])('%s → Malformed', (_n, over, structure) => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const ak: EccPublic = { nameAlg: 'sha256', objectAttributes: 0, authPolicy: hex(''), symmetric: null, scheme: null, raw: hex('0023'), type: 'ecc', curveId: 3, kdf: null, x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') };
    const v = verifyQuote({ akPublic: ak, quoted: QUOTE_ATTEST, signature: SIG_ECDSA, nonce: hex('aabb'), pcrs: {}, ...over });
    expect(v.ok ? [] : v.reasons.map((r) => [r.kind, r.context?.structure])).toEqual([['Malformed', structure]]);
  });

  it('an HMAC or NULL signature → UnsupportedScheme', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const ak: EccPublic = { nameAlg: 'sha256', objectAttributes: 0, authPolicy: hex(''), symmetric: null, scheme: null, raw: hex('0023'), type: 'ecc', curveId: 3, kdf: null, x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') };
    for (const signature of [SIG_HMAC, SIG_NULL]) {
      const v = verifyQuote({ akPublic: ak, quoted: QUOTE_ATTEST, signature, nonce: hex('aabb'), pcrs: {} });
      expect(v.ok ? [] : v.reasons.map((r) => r.kind)).toEqual(['UnsupportedScheme']);
    }
  });
});

describe('verifyQuote over a large selection', () => {
  // Every PCR of four banks: 3,936 bytes of PCR values hashed into pcrDigest, more than the buffer
  // verifyQuote joins them in starts with, so it has to grow and keep what was joined before.
  const banks = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as const;
  const pcrs = Object.fromEntries(Object.entries(banks).map(([bank, size]) =>
    [bank, Object.fromEntries(Array.from({ length: 24 }, (_, i) => [i, Buffer.alloc(size, i + size)]))])) as Record<keyof typeof banks, Record<number, Buffer>>;
  const all = Array.from({ length: 24 }, (_, i) => i);
  const selection = pcrSelection({ sha1: all, sha256: all, sha384: all, sha512: all });
  const digest = createHash('sha256');
  for (const sel of selection) for (const i of sel.pcrs) digest.update(pcrs[sel.bank][i]!);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const ak: EccPublic = { nameAlg: 'sha256', objectAttributes: 0, authPolicy: hex(''), symmetric: null, scheme: null, raw: hex('0023'), type: 'ecc', curveId: 3, kdf: null, x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') };
  const quoted = marshalAttest({ magic: TPM_GENERATED_VALUE, type: TPM_ST.ATTEST_QUOTE, qualifiedSigner: hex('000b'), extraData: hex('aabb'),
    clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: true }, firmwareVersion: 1n, attested: { kind: 'quote', pcrSelect: selection, pcrDigest: digest.digest() } });
  const p1363 = sign('sha256', quoted, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const signature = marshalSignature({ scheme: 'ecdsa', hashAlg: 'sha256', r: p1363.subarray(0, 32), s: p1363.subarray(32) });

  it('verifies, and rejects a change in the last PCR joined or in the first', () => {
    const verdict = (change: (p: typeof pcrs) => void): string[] => {
      const copy = structuredClone(pcrs);
      for (const bank of Object.keys(copy) as (keyof typeof banks)[]) for (const i of all) copy[bank][i] = Buffer.from(copy[bank][i]!);
      change(copy);
      const v = verifyQuote({ akPublic: ak, quoted, signature, nonce: hex('aabb'), pcrs: copy });
      return v.ok ? [] : v.reasons.map((r) => r.kind);
    };
    expect(verdict(() => {})).toEqual([]);
    expect(verdict((p) => { p.sha512[23]![63]! ^= 1; })).toEqual(['PcrDigestMismatch']);
    expect(verdict((p) => { p.sha1[0]![0]! ^= 1; })).toEqual(['PcrDigestMismatch']);
  });
});

/** xorshift32: deterministic, so a failing input can be replayed from its seed and iteration. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function mutate(src: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(src);
  const ops = 1 + (rnd() % 4);
  let out = b;
  for (let i = 0; i < ops; i++) {
    const at = out.length === 0 ? 0 : rnd() % out.length;
    switch (rnd() % 7) {
      case 0: if (out.length > 0) out[at] = rnd() & 0xff; break; // random byte
      case 1: if (out.length > 0) out[at]! ^= 1 << (rnd() % 8); break; // bit flip
      case 2: out = out.subarray(0, at); break; // truncate
      case 3: out = Buffer.concat([out.subarray(0, at), Buffer.from([rnd() & 0xff]), out.subarray(at)]); break; // insert
      case 4: out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]); break; // delete
      case 5: if (out.length > at + 1) out.writeUInt16BE([0, 0xffff, 0x8000, out.length, rnd() & 0xffff][rnd() % 5]! & 0xffff, at); break; // boundary u16
      default: out = Buffer.concat([out, out.subarray(at, at + 1 + (rnd() % 8))]); // duplicate a slice at the end
    }
  }
  return out;
}

describe('seeded fuzz: only ParseError escapes, and whatever parses re-encodes to the same bytes', () => {
  const PER_PARSER = 22_000; // 5 parsers → 110,000 inputs
  it.each(PARSERS.map(([name, parse, marshal, seeds], i) => [name, parse, marshal, seeds, 0x5eed + i] as const))(
    '%s', (_name, parse, marshal, seeds, seed) => {
      const rnd = prng(seed);
      let parsed = 0;
      for (let n = 0; n < PER_PARSER; n++) {
        const input = mutate(seeds[rnd() % seeds.length]!, rnd);
        let value: unknown;
        try {
          value = parse(input);
        } catch (e) {
          if (!(e instanceof ParseError)) throw new Error(`seed ${seed} iteration ${n}: ${String(e)} on ${input.toString('hex')}`);
          continue;
        }
        parsed++;
        if (!Buffer.from(marshal(value as never)).equals(input)) throw new Error(`seed ${seed} iteration ${n}: no round trip for ${input.toString('hex')}`);
      }
      expect(parsed).toBeGreaterThan(0);
      expect(parsed).toBeLessThan(PER_PARSER);
    });

  it('parsePcrYaml on mutated text', () => {
    const rnd = prng(0xa11);
    const text = Buffer.from(`pcrs:\n  sha1:\n    0 : 0x${'00'.repeat(20)}\n  sha256:\n    10: 0x${'cd'.repeat(32)}\n`);
    for (let n = 0; n < 10_000; n++) {
      try {
        parsePcrYaml(mutate(text, rnd).toString('latin1'));
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
    }
  });
});
