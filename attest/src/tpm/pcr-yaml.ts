import { ParseError } from '../binary/parse-error.js';
import { digestSize, isHashAlgName, type HashAlgName } from '../hash-alg.js';
import type { PcrValues } from '../pcr.js';

const STRUCTURE = 'tpm2-tools PCR YAML';
const BANK = /^(sha1|sha256|sha384|sha512)\s*:$/;
const VALUE = /^(\d{1,2})\s*:\s*0x([0-9a-fA-F]+)$/;

interface Line {
  readonly text: string;
  readonly offset: number;
}

function lines(text: string): Line[] {
  const out: Line[] = [];
  let offset = 0;
  for (const raw of text.split('\n')) {
    out.push({ text: raw.replace(/\r$/, ''), offset });
    offset += raw.length + 1;
  }
  return out;
}

/** The lines of a top-level `pcrs:` section when there is one (tpm2_quote's output), else all lines (tpm2_pcrread's). */
function pcrSection(all: Line[]): Line[] {
  const start = all.findIndex((l) => /^pcrs:\s*$/.test(l.text));
  if (start < 0) return all;
  const rest = all.slice(start + 1);
  const end = rest.findIndex((l) => /^\S/.test(l.text));
  return end < 0 ? rest : rest.slice(0, end);
}

function addValue(out: PcrValues<Uint8Array, HashAlgName>, bank: HashAlgName, m: RegExpExecArray, at: number): void {
  const index = Number(m[1]);
  const hex = m[2]!;
  const values = out[bank]!;
  if (index > 31) throw new ParseError(STRUCTURE, at, `PCR index ${index} out of range`);
  if (values[index] !== undefined) throw new ParseError(STRUCTURE, at, `${bank}:${index} appears twice`);
  if (hex.length !== digestSize(bank) * 2) throw new ParseError(STRUCTURE, at, `${bank}:${index} is not a ${bank} digest`);
  values[index] = Buffer.from(hex, 'hex');
}

/**
 * Parses the PCR listing tpm2_pcrread prints (or the `pcrs:` section of tpm2_quote's output):
 * `sha256:` bank lines followed by `10: 0x…` value lines. Strict: any other line is an error.
 * Throws only ParseError (offset = the offending line's start).
 */
export function parsePcrYaml(text: string): PcrValues<Uint8Array, HashAlgName> {
  const out: PcrValues<Uint8Array, HashAlgName> = {};
  let bank: HashAlgName | undefined;
  for (const { text: line, offset } of pcrSection(lines(text))) {
    const t = line.trim();
    if (t === '') continue;
    const b = BANK.exec(t);
    const v = VALUE.exec(t);
    if (b !== null && isHashAlgName(b[1]!)) {
      bank = b[1];
      if (out[bank] !== undefined) throw new ParseError(STRUCTURE, offset, `bank ${bank} appears twice`);
      out[bank] = {};
    } else if (v !== null && bank !== undefined) {
      addValue(out, bank, v, offset);
    } else {
      throw new ParseError(STRUCTURE, offset, `unexpected line: ${JSON.stringify(t.slice(0, 40))}`);
    }
  }
  if (bank === undefined) throw new ParseError(STRUCTURE, 0, 'no PCR banks');
  return out;
}
