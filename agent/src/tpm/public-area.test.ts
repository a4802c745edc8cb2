import { isRsaTemplateEk, summarizePublic } from './public-area.js';

const EK_POLICY = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');

/** A TPM2B_PUBLIC with the fields isRsaTemplateEk reads, then a stand-in for the parameters and unique. */
function tpm2bPublic(o: { type?: number; nameAlg?: number; attributes?: number; policy?: Buffer } = {}): Buffer {
  const policy = o.policy ?? EK_POLICY;
  const body = Buffer.concat([
    u16(o.type ?? 0x0001), // type: TPM_ALG_RSA
    u16(o.nameAlg ?? 0x000b), // nameAlg: sha256
    u32(o.attributes ?? 0x000300b2), // fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy | restricted | decrypt
    u16(policy.length), policy, // authPolicy
    Buffer.alloc(16, 0xaa), // parameters + unique (not read)
  ]);
  return Buffer.concat([u16(body.length), body]);
}
function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }

describe('isRsaTemplateEk', () => {
  it('accepts the TCG default RSA EK template', () => {
    expect(isRsaTemplateEk(tpm2bPublic())).toBe(true);
    expect(summarizePublic(tpm2bPublic())).toEqual({ type: 'rsa', restricted: true, sign: false });
  });

  it.each<[string, Buffer]>([
    ['an ECC key', tpm2bPublic({ type: 0x0023 })],
    ['a sha1 name', tpm2bPublic({ nameAlg: 0x0004 })],
    ['userWithAuth set (usable without the endorsement policy)', tpm2bPublic({ attributes: 0x000300b2 | 0x40 })],
    ['a signing key', tpm2bPublic({ attributes: 0x00050072 })],
    ['another authPolicy', tpm2bPublic({ policy: Buffer.alloc(32, 1) })],
    ['no authPolicy', tpm2bPublic({ policy: Buffer.alloc(0) })],
    ['a policy size past the end', Buffer.concat([u16(10), u16(1), u16(0x0b), u32(0x000300b2), u16(32)])],
    ['a size field that does not match', Buffer.concat([u16(99), tpm2bPublic().subarray(2)])],
    ['nothing', Buffer.alloc(0)],
  ])('rejects %s', (_what, pub) => {
    expect(isRsaTemplateEk(pub)).toBe(false);
  });
});
