import { ParseError } from '../binary/parse-error.js';
import { digestSize, isHashAlgName, type HashAlgName } from '../hash-alg.js';
import type { PcrValues } from '../pcr.js';
import type { QuoteResponse } from '../wire.js';


const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Decodes QuoteResponse.pcrs (hex) into bytes: untrusted until verifyQuote covers them. Throws only ParseError (bad bank, index, hex or size). */
export function quotePcrsFromWire(pcrs: QuoteResponse['pcrs']): PcrValues<Uint8Array, HashAlgName> {
  const out: PcrValues<Uint8Array, HashAlgName> = {};
  for (const [bank, values] of Object.entries(pcrs)) {
    if (!isHashAlgName(bank) || values === undefined) throw new ParseError('QuoteResponse.pcrs', 0, `unknown bank ${bank}`);
    const b: Record<string, Uint8Array> = {};
    for (const [index, hex] of Object.entries(values)) {
      if (!/^(?:[0-9]|1[0-9]|2[0-3])$/.test(index)) throw new ParseError('QuoteResponse.pcrs', 0, `${bank}: bad PCR index ${index}`);
      if (!HEX.test(hex) || hex.length !== digestSize(bank) * 2) throw new ParseError('QuoteResponse.pcrs', 0, `${bank}:${index}: not a ${bank} digest`);
      b[String(Number(index))] = Buffer.from(hex, 'hex');
    }
    out[bank] = b;
  }
  return out;
}
