import { hashAlgId, type HashAlgName } from '@nodeward/attest';

/**
 * tpm2-tools' `tpm2_quote -o` PCR file, which Keylime's checkquote reads (tpm_util.__get_pcrs_from_blob):
 * structures written straight from memory, little-endian, not TPM-marshalled.
 *   TPML_PCR_SELECTION: u32 count, then 16 × { u16 hash, u8 sizeofSelect, u8 pcrSelect[4], pad } (8 bytes each)
 *   u32 number of TPML_DIGESTs, then each: u32 count, 8 × { u16 size, u8 buffer[64] } (TPM2B_DIGEST)
 * Values fill the digests 8 at a time, in ascending PCR order.
 */
export function tpm2ToolsPcrBlob(bank: HashAlgName, pcrs: Readonly<Record<number, Uint8Array>>): Buffer {
  const indices = Object.keys(pcrs).map(Number).sort((a, b) => a - b);
  const lists = Math.ceil(indices.length / 8);
  const out = Buffer.alloc(4 + 16 * 8 + 4 + lists * (4 + 8 * 66));
  out.writeUInt32LE(1, 0);
  out.writeUInt16LE(hashAlgId(bank), 4);
  out.writeUInt8(3, 6);
  let mask = 0;
  for (const i of indices) mask |= 1 << i;
  out.writeUIntLE(mask, 7, 3);
  let o = 4 + 16 * 8;
  out.writeUInt32LE(lists, o);
  o += 4;
  for (let l = 0; l < lists; l++) {
    const chunk = indices.slice(l * 8, l * 8 + 8);
    out.writeUInt32LE(chunk.length, o);
    chunk.forEach((pcr, k) => {
      const at = o + 4 + k * 66;
      out.writeUInt16LE(pcrs[pcr]!.length, at);
      out.set(pcrs[pcr]!, at + 2);
    });
    o += 4 + 8 * 66;
  }
  return out;
}
