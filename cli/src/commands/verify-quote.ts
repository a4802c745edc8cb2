import { createPublicKey } from 'node:crypto';
import {
  isParseError, parseAttest, parsePcrYaml, parsePublic, parseSignature, tpmPublicFromKeyObject, unwrapAttest, verifyQuote,
  type QuotePcrs, type QuoteVerdict, type TpmPublic,
} from '@nodeward/attest';
import { CliUsageError, INPUT_LIMITS, parseFlags, requireFlag, type CliIo, type Command } from '../cli-io.js';

/**
 * nodeward verify-quote: checks what tpm2_quote wrote (-m message, -s signature in the default TSS
 * format, the PCR listing it printed) against an AK (tpm2_createak -f pem, or its TPM2B_PUBLIC -u file)
 * and the nonce that was asked for. Exit 0 verified, 1 rejected, 2 usage or unreadable input.
 */

const VALUED = ['ak-pub', 'message', 'signature', 'pcrs', 'nonce'] as const;

interface Inputs {
  akPublic: TpmPublic;
  quoted: Uint8Array;
  signature: Uint8Array;
  pcrs: QuotePcrs;
  nonce: Buffer;
}

/** Runs a parser over one input file; a ParseError becomes a usage error naming the flag. */
function parsed<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isParseError(e)) throw new CliUsageError(`--${flag}: malformed ${e.structure} at offset ${e.offset}: ${e.detail}`);
    throw e;
  }
}

function readAk(bytes: Buffer): TpmPublic {
  const text = bytes.toString('latin1');
  if (!text.trimStart().startsWith('-----BEGIN')) return parsePublic(bytes);
  let key;
  try {
    key = createPublicKey(text);
  } catch {
    throw new CliUsageError('--ak-pub: not a PEM public key');
  }
  return tpmPublicFromKeyObject(key);
}

function readNonce(hex: string): Buffer {
  const h = hex.replace(/^0x/i, '');
  if (h.length === 0 || !/^(?:[0-9a-fA-F]{2})+$/.test(h)) throw new CliUsageError('--nonce must be an even number of hex digits');
  return Buffer.from(h, 'hex');
}

function readInputs(flags: Map<string, string>, io: CliIo): Inputs {
  const file = (flag: string): Buffer => io.readFile(requireFlag(flags, flag), INPUT_LIMITS.small);
  const nonce = readNonce(requireFlag(flags, 'nonce'));
  const akPublic = parsed('ak-pub', () => readAk(file('ak-pub')));
  const quoted = unwrapAttest(file('message'));
  parsed('message', () => parseAttest(quoted));
  const signature = file('signature');
  parsed('signature', () => parseSignature(signature));
  const pcrs = parsed('pcrs', () => parsePcrYaml(file('pcrs').toString('utf8')));
  return { akPublic, quoted, signature, pcrs, nonce };
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function pcrsJson(pcrs: QuotePcrs): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(pcrs).map(([bank, values]) => [bank, Object.fromEntries(Object.entries(values ?? {}).map(([i, v]) => [i, hexOf(v)]))]));
}

function report(v: QuoteVerdict, json: boolean, io: CliIo): void {
  if (v.ok) {
    const { clockInfo: c, firmwareVersion, hashAlg, pcrs } = v.attest;
    if (json) {
      io.out(JSON.stringify({
        verified: true, hashAlg, firmwareVersion: firmwareVersion.toString(16),
        clockInfo: { clock: c.clock.toString(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe },
        pcrs: pcrsJson(pcrs),
      }));
    } else {
      const n = Object.values(pcrs).reduce((a, b) => a + Object.keys(b ?? {}).length, 0);
      io.out(`verified: ${n} PCRs, ${hashAlg}, resetCount ${c.resetCount}, restartCount ${c.restartCount}, clock ${c.clock}`);
    }
    return;
  }
  if (json) {
    io.out(JSON.stringify({ verified: false, reasons: v.reasons.map(({ id, message, context }) => ({ id, message, context })) }));
    return;
  }
  io.out('rejected');
  for (const r of v.reasons) io.out(`  ${r.id}: ${r.message}`);
}

export const verifyQuoteCommand: Command = (args, io) => {
  const flags = parseFlags(args, VALUED, ['json']);
  const inputs = readInputs(flags, io);
  const verdict = verifyQuote(inputs);
  report(verdict, flags.has('json'), io);
  return verdict.ok ? 0 : 1;
};
