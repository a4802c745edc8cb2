import { ByteReader } from '../binary/reader.js';
import { hashAlgId, type HashAlgName } from '../hash-alg.js';
import { readHashAlg } from './hash-alg-field.js';
import { ByteWriter } from './writer.js';
import type { PcrSelection } from '../pcr.js';

/** One TPMS_PCR_SELECTION: a bank and the PCR indices selected in it, ascending. */
export interface PcrBankSelection {
  readonly bank: HashAlgName;
  /** sizeofSelect as received, so that marshalling reproduces the bytes (real TPMs use 3). */
  readonly sizeofSelect: number;
  readonly pcrs: readonly number[];
}

/** TPML_PCR_SELECTION: banks in the order the TPM listed them (the order the PCR digest uses). */
export type TpmlPcrSelection = readonly PcrBankSelection[];

/** HASH_COUNT bound: no TPM has more banks than hash algorithms. */
export const MAX_PCR_BANKS = 16;
/** 32 bytes of bitmap = 256 PCRs; real TPMs have 24. */
export const MAX_SIZEOF_SELECT = 32;

function readBankSelection(r: ByteReader): PcrBankSelection {
  const bank = readHashAlg(r, 'hash');
  const sizeAt = r.offset;
  const sizeofSelect = r.u8('sizeofSelect');
  if (sizeofSelect > MAX_SIZEOF_SELECT) r.fail(`sizeofSelect ${sizeofSelect} exceeds ${MAX_SIZEOF_SELECT}`, sizeAt);
  const bitmap = r.bytes(sizeofSelect, 'pcrSelect');
  const pcrs: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) {
    if ((bitmap[i >> 3]! >> (i & 7)) & 1) pcrs.push(i);
  }
  return { bank, sizeofSelect, pcrs };
}

/** Reads a TPML_PCR_SELECTION at the reader's cursor. */
export function readPcrSelection(r: ByteReader): TpmlPcrSelection {
  const countAt = r.offset;
  const count = r.u32be('count');
  if (count > MAX_PCR_BANKS) r.fail(`count ${count} exceeds ${MAX_PCR_BANKS}`, countAt);
  const out: PcrBankSelection[] = [];
  for (let i = 0; i < count; i++) out.push(readBankSelection(r));
  return out;
}

/** Parses exactly one TPML_PCR_SELECTION. Throws only ParseError. */
export function parsePcrSelection(bytes: Uint8Array): TpmlPcrSelection {
  const r = new ByteReader(bytes, 'TPML_PCR_SELECTION');
  const sel = readPcrSelection(r);
  r.expectEnd();
  return sel;
}

export function writePcrSelection(w: ByteWriter, sel: TpmlPcrSelection): ByteWriter {
  w.u32be(sel.length);
  for (const s of sel) {
    const bitmap = new Uint8Array(s.sizeofSelect);
    for (const i of s.pcrs) {
      if (!Number.isInteger(i) || i < 0 || i >= s.sizeofSelect * 8) throw new RangeError(`PCR ${i} does not fit sizeofSelect ${s.sizeofSelect}`);
      bitmap[i >> 3] = bitmap[i >> 3]! | (1 << (i & 7));
    }
    w.u16be(hashAlgId(s.bank)).u8(s.sizeofSelect).bytes(bitmap);
  }
  return w;
}

export function marshalPcrSelection(sel: TpmlPcrSelection): Buffer {
  return writePcrSelection(new ByteWriter(), sel).finish();
}

/** A selection from bank → indices, in the given bank order, with the usual 3-byte bitmap (or larger if needed). */
export function pcrSelection(banks: PcrSelection<HashAlgName>): TpmlPcrSelection {
  return Object.entries(banks).map(([bank, idx]) => {
    const pcrs = [...new Set(idx)].sort((a, b) => a - b);
    const max = pcrs.length === 0 ? 0 : pcrs[pcrs.length - 1]!;
    return { bank: bank as HashAlgName, sizeofSelect: Math.max(3, (max >> 3) + 1), pcrs };
  });
}
