import { createPublicKey } from 'node:crypto';
import {
  isParseError, parseAttest, parsePcrYaml, parsePublic, parseSignature, tpmPublicFromKeyObject, unwrapAttest, verifyQuote,
  type HashAlgName, type PcrValues, type QuoteVerdict, type TpmPublic,
} from '@nodeward/attest';
import { CliUsageError, INPUT_LIMITS, parseFlags, requireFlag, type CliIo, type Command } from '../cli-io.js';

/**
 * nodeward verify-quote: checks what tpm2_quote wrote (-m message, -s signature in the default TSS
 * format, the PCR listing it printed) against an AK (tpm2_createak -f pem, or its TPM2B_PUBLIC -u file)
 * and the nonce that was asked for. Exit 0 verified, 1 rejected, 2 usage or unreadable input.
 * Without --nonce (a quote made without `tpm2_quote -q`, or stored by another system) everything but
 * freshness is checked, and the output says that freshness was not: the exit status does not change.
 */

const VALUED = ['ak-pub', 'message', 'signature', 'pcrs', 'nonce'] as const;

interface Inputs {
  akPublic: TpmPublic;
  quoted: Uint8Array;
  signature: Uint8Array;
  pcrs: PcrValues<Uint8Array, HashAlgName>;
  /** Undefined: no --nonce, freshness is not checked. */
  nonce: Buffer | undefined;
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

/** `--nonce ""` is an empty nonce: the quote's qualifying data must then be empty too. */
function readNonce(hex: string | undefined): Buffer | undefined {
  if (hex === undefined) return undefined;
  const h = hex.replace(/^0x/i, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(h)) throw new CliUsageError('--nonce must be an even number of hex digits');
  return Buffer.from(h, 'hex');
}

function readInputs(flags: Map<string, string>, io: CliIo): Inputs {
  const file = (flag: string): Buffer => io.readFile(requireFlag(flags, flag), INPUT_LIMITS.small);
  const nonce = readNonce(flags.get('nonce'));
  const akPublic = parsed('ak-pub', () => readAk(file('ak-pub')));
  const quoted = unwrapAttest(file('message'));
  parsed('message', () => parseAttest(quoted));
  const signature = file('signature');
  parsed('signature', () => parseSignature(signature));
  const pcrs = parsed('pcrs', () => parsePcrYaml(file('pcrs').toString('utf8')));
  return { akPublic, quoted, signature, pcrs, nonce };
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function pcrsJson(pcrs: PcrValues<Uint8Array, HashAlgName>): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(pcrs).map(([bank, values]) => [bank, Object.fromEntries(Object.entries(values ?? {}).map(([i, v]) => [i, hexOf(v)]))]));
}

const FRESHNESS_NOT_CHECKED = 'freshness not checked: no nonce was given, so this quote may be a replay';

function report(v: QuoteVerdict, freshness: boolean, json: boolean, io: CliIo): void {
  if (v.ok) {
    const { clockInfo: c, firmwareVersion, hashAlg, pcrs } = v.attest;
    if (json) {
      io.out(JSON.stringify({
        verified: true, freshnessChecked: freshness, hashAlg, firmwareVersion: firmwareVersion.toString(16),
        clockInfo: { clock: c.clock.toString(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe },
        pcrs: pcrsJson(pcrs),
      }));
    } else {
      const n = Object.values(pcrs).reduce((a, b) => a + Object.keys(b ?? {}).length, 0);
      io.out(`verified: ${n} PCRs, ${hashAlg}, resetCount ${c.resetCount}, restartCount ${c.restartCount}, clock ${c.clock}`);
      if (!freshness) io.out(FRESHNESS_NOT_CHECKED);
    }
    return;
  }
  if (json) {
    io.out(JSON.stringify({ verified: false, freshnessChecked: freshness, reasons: v.reasons.map(({ id, message, context }) => ({ id, message, context })) }));
    return;
  }
  io.out('rejected');
  for (const r of v.reasons) io.out(`  ${r.id}: ${r.message}`);
  if (!freshness) io.out(FRESHNESS_NOT_CHECKED);
}

/**
 * Without a nonce the quote's own qualifying data stands in for it, so verifyQuote (whose nonce the
 * operator always supplies) checks everything else unchanged. The bytes are parsed from the quote,
 * not trusted: the signature over them is still checked.
 */
function nonceOrOwn(inputs: Inputs): Uint8Array {
  return inputs.nonce ?? parseAttest(inputs.quoted).extraData;
}

export const verifyQuoteCommand: Command = (args, io) => {
  const flags = parseFlags(args, VALUED, ['json']);
  const inputs = readInputs(flags, io);
  const verdict = verifyQuote({ ...inputs, nonce: nonceOrOwn(inputs) });
  report(verdict, inputs.nonce !== undefined && inputs.nonce.length > 0, flags.has('json'), io);
  return verdict.ok ? 0 : 1;
};
