import { describeTpm, parseFixedProperties, parseQuotePcrs, trimDer, unwrapAttest } from './tool-output.js';
import { selectionArg } from './agent-tpm.js';

describe('tpm2-tools output', () => {
  it('reads the pcrs section of tpm2_quote', () => {
    const out = ['quoted: ff54', 'signature:', '  alg: rsassa', 'pcrs:', '  sha256:', '    0 : 0x' + '0A'.repeat(32),
      '    10: 0x' + '11'.repeat(32), '  sha1:', '    10: 0x' + '22'.repeat(20), 'calcDigest: 00'].join('\n');
    expect(parseQuotePcrs(out)).toEqual({ sha256: { 0: '0a'.repeat(32), 10: '11'.repeat(32) }, sha1: { 10: '22'.repeat(20) } });
  });
  it('describes the TPM from properties-fixed', () => {
    const props = parseFixedProperties('TPM2_PT_MANUFACTURER:\n  raw: 0x49424D00\n  value: "IBM"\nTPM2_PT_FIRMWARE_VERSION_1:\n  raw: 0x20191023\nTPM2_PT_FIRMWARE_VERSION_2:\n  raw: 0x163636\n');
    expect(describeTpm(props)).toEqual({ manufacturer: 'IBM', firmwareVersion: '8217.4131.22.13878' });
  });
  it('unwraps TPM2B_ATTEST and keeps TPMS_ATTEST', () => {
    const attest = Buffer.from('ff54434780180000', 'hex');
    expect(unwrapAttest(attest)).toEqual(attest);
    expect(unwrapAttest(Buffer.concat([Buffer.from([0, 8]), attest]))).toEqual(attest);
    expect(() => unwrapAttest(Buffer.from('0000', 'hex'))).toThrow();
  });
  it('trims NV padding after a DER certificate', () => {
    expect(trimDer(Buffer.from('300301020300ffff', 'hex'))?.toString('hex')).toBe('3003010203');
    expect(trimDer(Buffer.concat([Buffer.from('30820004', 'hex'), Buffer.alloc(4, 1), Buffer.alloc(10)]))?.length).toBe(8);
    expect(trimDer(Buffer.from('3082ffff00', 'hex'))).toBeUndefined();
    expect(trimDer(Buffer.from('ffff', 'hex'))).toBeUndefined();
  });
  it('builds the -l selection in a fixed bank order', () => {
    expect(selectionArg({ sha256: [10, 0], sha1: [10] })).toBe('sha1:10+sha256:0,10');
  });
});
