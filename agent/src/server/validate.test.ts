import { HttpError } from './http-error.js';
import { parseActivateRequest, parseCredentialRequest, parseFrom, parseQuoteRequest } from './validate.js';

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
    expect(parseActivateRequest({ credentialBlob: tpm2b, encryptedSecret: tpm2b }).idObject).toEqual(Buffer.from([0, 2, 1, 2]));
    expect(code(() => parseActivateRequest({ credentialBlob: Buffer.from([0, 3, 1, 2]).toString('base64'), encryptedSecret: tpm2b }))).toBe('400 activate.invalid');
    expect(code(() => parseActivateRequest({ credentialBlob: 'not base64!', encryptedSecret: tpm2b }))).toBe('400 activate.invalid');
  });
  it('requires PEM strings for the credential and a decimal `from`', () => {
    expect(code(() => parseCredentialRequest({ certificatePem: 'x', privateKeyPem: 'y', caPem: 'z' }))).toBe('400 credential.invalid');
    expect(parseFrom(null)).toBe(0);
    expect(parseFrom('42')).toBe(42);
    for (const bad of ['-1', '1e3', '', '0x10', '9999999999']) expect(code(() => parseFrom(bad))).toBe('400 ima.invalid_from');
  });
});
