import { HttpError } from './http-error.js';
import { parseActivateRequest, parseCredentialRequest, parseFrom, parseQuoteRequest, parseRoundRequest } from './validate.js';

const code = (f: () => unknown): string | undefined => {
  try { f(); return undefined; } catch (e) { return e instanceof HttpError ? `${e.status} ${e.code}` : 'other'; }
};

describe('request validation', () => {
  it('accepts a valid quote request and normalises the selection', () => {
    const r = parseQuoteRequest({ nonce: 'AB'.repeat(8), pcrSelection: { sha256: [10, 0, 10], sha1: [23] } });
    expect(r.nonce.toString('hex')).toBe('ab'.repeat(8));
    expect(r.selection).toEqual({ sha256: [0, 10], sha1: [23] });
    expect(parseQuoteRequest({ nonce: 'ab'.repeat(64), pcrSelection: { sha384: [0] } }).nonce).toHaveLength(64);
  });
  it.each([
    [null], [[]], ['x'], [{}], [{ nonce: 'ab'.repeat(8) }], [{ nonce: 'abc', pcrSelection: { sha1: [0] } }],
    [{ nonce: 'ab'.repeat(7), pcrSelection: { sha1: [0] } }], [{ nonce: 'ab'.repeat(65), pcrSelection: { sha1: [0] } }],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [1.5] } }], [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [-1] } }],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: '0' } }], [{ nonce: 'ab'.repeat(8), pcrSelection: { sha512: [0] } }],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { __proto__: [0] } }],
  ])('rejects quote request %j with 400', (body) => {
    expect(code(() => parseQuoteRequest(body))).toMatch(/^400 /);
  });
  it('requires size-prefixed base64 TPM2Bs for activation', () => {
    const tpm2b = Buffer.from([0, 2, 1, 2]).toString('base64');
    expect(code(() => parseActivateRequest({ credentialBlob: Buffer.from([0, 3, 1, 2]).toString('base64'), encryptedSecret: tpm2b }))).toBe('400 activate.invalid');
    expect(code(() => parseActivateRequest({ credentialBlob: 'not base64!', encryptedSecret: tpm2b }))).toBe('400 activate.invalid');
  });

  // TPM2B_ID_OBJECT: u16 size | u16 hmac size | hmac | encIdentity; TPM2B_ENCRYPTED_SECRET: u16 size | RSA block or ECC point.
  const tpm2b = (...parts: Buffer[]): Buffer => { const b = Buffer.concat(parts); return Buffer.concat([u16(b.length), b]); };
  const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
  const idObject = (hmac: number, enc: number): string => tpm2b(u16(hmac), Buffer.alloc(hmac, 1), Buffer.alloc(enc, 2)).toString('base64');
  const eccPoint = (x: number, y: number): string => tpm2b(u16(x), Buffer.alloc(x, 3), u16(y), Buffer.alloc(y, 4)).toString('base64');
  const rsa = (n: number): string => tpm2b(Buffer.alloc(n, 5)).toString('base64');
  it.each([
    ['sha256 HMAC, RSA-2048 secret', idObject(32, 34), rsa(256)],
    ['sha1 HMAC, RSA-4096 secret', idObject(20, 22), rsa(512)],
    ['sha384 HMAC, P-256 point', idObject(48, 50), eccPoint(32, 32)],
    ['sha512 HMAC, P-521 point', idObject(64, 66), eccPoint(66, 66)],
  ])('accepts the activation structures (%s)', (_what, credentialBlob, encryptedSecret) => {
    expect(parseActivateRequest({ credentialBlob, encryptedSecret }).idObject.toString('base64')).toBe(credentialBlob);
  });
  it.each([
    ['HMAC of no digest size', idObject(31, 34), rsa(256), 'credentialBlob'],
    ['HMAC size past the end', tpm2b(u16(200), Buffer.alloc(10)).toString('base64'), rsa(256), 'credentialBlob'],
    ['no encIdentity', idObject(32, 0), rsa(256), 'credentialBlob'],
    ['encIdentity too long', idObject(32, 67), rsa(256), 'credentialBlob'],
    ['secret of no RSA size', idObject(32, 34), rsa(100), 'encryptedSecret'],
    ['ECC point of unequal sizes', idObject(32, 34), eccPoint(32, 48), 'encryptedSecret'],
    ['ECC point with trailing bytes', idObject(32, 34), tpm2b(u16(32), Buffer.alloc(32), u16(32), Buffer.alloc(33)).toString('base64'), 'encryptedSecret'],
  ])('rejects a malformed activation blob (%s) with 400 naming the field', (_what, credentialBlob, encryptedSecret, field) => {
    expect(code(() => parseActivateRequest({ credentialBlob, encryptedSecret }))).toBe('400 activate.invalid');
    expect(() => parseActivateRequest({ credentialBlob, encryptedSecret })).toThrow(field);
  });
  it('requires PEM strings for the credential and a decimal `from`', () => {
    expect(code(() => parseCredentialRequest({ certificatePem: 'x', privateKeyPem: 'y', caPem: 'z' }))).toBe('400 credential.invalid');
    expect(parseFrom(null)).toBe(0);
    expect(parseFrom('42')).toBe(42);
    for (const bad of ['-1', '1e3', '', '0x10', '9999999999']) expect(code(() => parseFrom(bad))).toBe('400 ima.invalid_from');
  });
  it('accepts a round request: a quote request plus optional imaFrom, eventLog and verity', () => {
    const quote = { nonce: 'ab'.repeat(8), pcrSelection: { sha256: [10, 0] } };
    expect(parseRoundRequest(quote)).toEqual({ nonce: Buffer.from('ab'.repeat(8), 'hex'), selection: { sha256: [0, 10] }, eventLog: false, verity: false });
    expect(parseRoundRequest({ ...quote, imaFrom: 0, eventLog: true, verity: false })).toMatchObject({ imaFrom: 0, eventLog: true, verity: false });
    expect(parseRoundRequest({ ...quote, imaFrom: 999_999_999 }).imaFrom).toBe(999_999_999);
  });
  it.each([
    [null, '400 request.invalid'], [{ pcrSelection: { sha1: [0] } }, '400 quote.invalid_nonce'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [24] } }, '400 quote.invalid_pcr'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, imaFrom: -1 }, '400 ima.invalid_from'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, imaFrom: 1.5 }, '400 ima.invalid_from'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, imaFrom: '3' }, '400 ima.invalid_from'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, imaFrom: 1e9 }, '400 ima.invalid_from'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, imaFrom: null }, '400 ima.invalid_from'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, eventLog: 'yes' }, '400 round.invalid'],
    [{ nonce: 'ab'.repeat(8), pcrSelection: { sha1: [0] }, verity: 1 }, '400 round.invalid'],
  ])('rejects round request %j as %s', (body, expected) => {
    expect(code(() => parseRoundRequest(body))).toBe(expected);
  });
});
