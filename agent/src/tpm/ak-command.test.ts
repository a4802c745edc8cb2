import { akTemplate, createCommand, parseCreateResponse, parseLoadResponse } from './ak-command.js';
import { TpmResponseError } from './tpm-command.js';
import { TpmError } from './tpm-error.js';

const hex = (s: string): string => s.replace(/\s|\/\/[^\n]*/g, '');

describe('AK creation commands', () => {
  it.each([
    ['rsa', hex(`
      0001 000b        // type RSA, nameAlg SHA-256
      00050072         // fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign
      0000             // authPolicy empty
      0010             // symmetric NULL
      0014 000b        // scheme RSASSA, SHA-256
      0800 00000000    // 2048 bits, default exponent
      0000             // unique empty`)],
    ['ecc', hex(`
      0023 000b 00050072 0000 0010
      0018 000b        // scheme ECDSA, SHA-256
      0003 0010        // NIST P-256, kdf NULL
      0000 0000        // unique x, y empty`)],
  ] as const)('builds the %s AK template field by field', (akType, expected) => {
    expect(akTemplate(akType).toString('hex')).toBe(expected);
  });

  it('puts the EK as parent and the policy session (continueSession clear) in TPM2_Create', () => {
    const cmd = createCommand({ parent: 0x81010001, session: 0x03000000, nonceCaller: Buffer.alloc(32, 1), template: akTemplate('rsa') });
    expect(cmd.readUInt16BE(0)).toBe(0x8002);
    expect(cmd.readUInt32BE(2)).toBe(cmd.length);
    expect(cmd.readUInt32BE(6)).toBe(0x153);
    expect(cmd.readUInt32BE(10)).toBe(0x81010001);
    expect(cmd.readUInt32BE(18)).toBe(0x03000000); // after authorizationSize
    expect(cmd[18 + 4 + 2 + 32]).toBe(0); // session attributes
  });

  it('turns a response code into a TpmResponseError naming TPM2_Create', () => {
    const err = (() => { try { parseCreateResponse(Buffer.from('80010000000a0000098e', 'hex')); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(TpmResponseError);
    expect(err).toMatchObject({ command: 'Create', rc: 0x98e });
  });

  it('rejects a truncated TPM2_Create answer and a TPM2_Load answer without a transient handle', () => {
    expect(() => parseCreateResponse(Buffer.from('80020000001000000000000000040002', 'hex'))).toThrow(TpmError);
    // tag, size, rc, handle 0x81000000, parameterSize 2, name empty
    expect(() => parseLoadResponse(Buffer.from('8002000000140000000081000000000000020000', 'hex'))).toThrow(/not a transient handle/);
  });
});
