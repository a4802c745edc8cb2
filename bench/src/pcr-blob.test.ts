import { tpm2ToolsPcrBlob } from './pcr-blob.js';

describe('tpm2ToolsPcrBlob (the layout Keylime tpm_util.__get_pcrs_from_blob reads)', () => {
  const pcrs = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i, Buffer.alloc(32, i + 1)]));
  const blob = tpm2ToolsPcrBlob('sha256', pcrs);

  it('writes one TPMS_PCR_SELECTION of 16 slots of 8 bytes, then the digest lists of 8 × 66 bytes', () => {
    expect(blob.length).toBe(4 + 16 * 8 + 4 + 2 * (4 + 8 * 66));
    expect(blob.readUInt32LE(0)).toBe(1); // TPML_PCR_SELECTION.count
    expect(blob.readUInt16LE(4)).toBe(0x000b); // hash: TPM_ALG_SHA256
    expect(blob[6]).toBe(3); // sizeofSelect
    expect(blob.readUIntLE(7, 3)).toBe(0x7ff); // PCRs 0-10
    expect(blob.subarray(12, 132).every((b) => b === 0)).toBe(true); // slots 1-15 unused
    expect(blob.readUInt32LE(132)).toBe(2); // two TPML_DIGESTs
  });

  it('fills the digests in PCR order, 8 per list, each TPM2B_DIGEST in a 64-byte buffer', () => {
    const list = (l: number): number => 136 + l * 532;
    expect(blob.readUInt32LE(list(0))).toBe(8);
    expect(blob.readUInt32LE(list(1))).toBe(3);
    const digest = (l: number, k: number): Buffer => {
      const at = list(l) + 4 + k * 66;
      return blob.subarray(at + 2, at + 2 + blob.readUInt16LE(at));
    };
    expect(digest(0, 0)).toEqual(Buffer.alloc(32, 1));
    expect(digest(0, 7)).toEqual(Buffer.alloc(32, 8));
    expect(digest(1, 2)).toEqual(Buffer.alloc(32, 11));
    expect(blob.readUInt16LE(list(1) + 4 + 3 * 66)).toBe(0); // unused slot
  });
});
