import { ParseError } from '../binary/parse-error.js';
import { digestSize } from '../hash-alg.js';
import { asBuffer, IMA_LIMITS, ImaEntryView, type ImaEntry } from './ima-entry.js';
import type { ImaParseOptions } from './parse-ima-binary.js';
import { digestNgField, digestProblem, imaTemplateHashInput, lengthPrefixed, nameNgField } from './template-fields.js';

/**
 * Parses ascii_runtime_measurements: one entry per line,
 *   `<pcr> <template hash hex> <template> <fields, each preceded by one space>`
 * e.g. `10 <sha1> ima-ng sha256:<hex> /usr/bin/bash`. The template data is rebuilt in its binary
 * form so the template hash and the PCR banks can be checked exactly as for the binary list.
 * The kernel writes every field after a space, even an empty one (`ima-sig` without a signature
 * ends with a space), and replaces spaces in names with `_`. Throws only ParseError.
 */
export function parseImaAsciiLog(bytes: Uint8Array, opts: ImaParseOptions = {}): ImaEntry[] {
  const buf = asBuffer(bytes);
  const hexLen = 2 * digestSize(opts.templateHashAlg ?? 'sha1');
  const firstIndex = opts.firstIndex ?? 0;
  const entries: ImaEntry[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let end = buf.indexOf(0x0a, pos);
    if (end < 0) end = buf.length;
    if (end > pos) {
      const index = firstIndex + entries.length;
      const line = buf.toString('utf8', pos, end);
      entries.push(parseLine(line, { index, offset: pos, hexLen }));
    }
    pos = end + 1;
  }
  return entries;
}

interface LineCtx {
  readonly index: number;
  readonly offset: number;
  readonly hexLen: number;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const PCR = /^[0-9]{1,2}$/;

function fail(ctx: LineCtx, detail: string): never {
  throw new ParseError(`ima.ascii_log entry ${ctx.index}`, ctx.offset, detail);
}

function hex(ctx: LineCtx, s: string, what: string): Buffer {
  if (!HEX.test(s)) fail(ctx, `${what} is not hex: ${JSON.stringify(s.slice(0, 80))}`);
  return Buffer.from(s, 'hex');
}

/** Splits at the first space; a missing space is a malformed line. */
function head(ctx: LineCtx, s: string, what: string): [string, string] {
  const i = s.indexOf(' ');
  if (i < 0) fail(ctx, `missing ${what}`);
  return [s.slice(0, i), s.slice(i + 1)];
}

function parseLine(line: string, ctx: LineCtx): ImaEntry {
  const [pcrText, r1] = head(ctx, line, 'template hash');
  const [hashText, r2] = head(ctx, r1, 'template name');
  const [template, rest] = head(ctx, r2, 'template data');
  if (!PCR.test(pcrText) || Number(pcrText) > IMA_LIMITS.pcrMax) fail(ctx, `pcr ${JSON.stringify(pcrText.slice(0, 20))} is not a PCR index`);
  if (hashText.length !== ctx.hexLen) fail(ctx, `template hash has ${hashText.length} hex digits, expected ${ctx.hexLen}`);
  const templateHash = hex(ctx, hashText, 'template hash');
  if (template.length === 0 || template.length > IMA_LIMITS.templateNameMax) fail(ctx, 'bad template name');
  const f = fields(ctx, template, rest);
  if (f.hashInput.length > IMA_LIMITS.templateDataMax) fail(ctx, `template data exceeds ${IMA_LIMITS.templateDataMax} bytes`);
  // One source buffer per entry: template hash, then the rebuilt template data.
  const e = new ImaEntryView(Buffer.concat([templateHash, f.hashInput]));
  const base = templateHash.length;
  e.index = ctx.index;
  e.offset = ctx.offset;
  e.pcr = Number(pcrText);
  e.template = template;
  e.hashAt = 0;
  e.hashLen = base;
  e.dataAt = base;
  e.dataLen = f.hashInput.length;
  e.digestAlg = f.digestAlg;
  e.digAt = base + f.digestAt;
  e.digLen = f.digestLen;
  e.name = f.name;
  e.extraKind = f.extraKind;
  e.extraLen = f.extraLen;
  e.extraAt = base + f.hashInput.length - f.extraLen;
  return e;
}

interface Fields {
  readonly hashInput: Buffer;
  readonly digestAlg: string;
  /** Where the digest is within hashInput. */
  readonly digestAt: number;
  readonly digestLen: number;
  readonly name: string;
  /** sig or buf: the last field of hashInput. */
  readonly extraKind: 'sig' | 'buf' | '';
  readonly extraLen: number;
}

function fields(ctx: LineCtx, template: string, rest: string): Fields {
  switch (template) {
    case 'ima':
      return imaFields(ctx, rest);
    case 'ima-ng': {
      const [d, name] = head(ctx, rest, 'n-ng');
      return ngFields(ctx, d, name);
    }
    case 'ima-sig':
    case 'ima-buf': {
      // digest, name, then hex after the last space (hex has no spaces; old kernels' names might).
      const kind = template === 'ima-sig' ? 'sig' : 'buf';
      const [d, nameAndHex] = head(ctx, rest, 'n-ng');
      const last = nameAndHex.lastIndexOf(' ');
      if (last < 0) fail(ctx, `missing ${kind} field`);
      return ngFields(ctx, d, nameAndHex.slice(0, last), { kind, bytes: hex(ctx, nameAndHex.slice(last + 1), kind) });
    }
    default:
      return fail(ctx, `template ${JSON.stringify(template.slice(0, 40))} cannot be read from an ASCII list`);
  }
}

/** `ima`: bare sha1 digest and a name of at most 255 bytes; hashed as digest || name padded to 256. */
function imaFields(ctx: LineCtx, rest: string): Fields {
  const [d, name] = head(ctx, rest, 'n');
  if (d.length !== 40) fail(ctx, 'ima template digest is not 40 hex digits');
  const digest = hex(ctx, d, 'd');
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > IMA_LIMITS.imaEventNameMax) fail(ctx, `ima template name exceeds ${IMA_LIMITS.imaEventNameMax} bytes`);
  const hashInput = imaTemplateHashInput(digest, nameBytes);
  return { hashInput, digestAlg: 'sha1', digestAt: 0, digestLen: 20, name, extraKind: '', extraLen: 0 };
}

/** A d-ng without "<alg>:" is a bare sha1 or md5 digest. */
function legacyAlg(ctx: LineCtx, len: number): string {
  if (len === 20) return 'sha1';
  if (len === 16) return 'md5';
  return fail(ctx, `d-ng without "<alg>:" has ${len} bytes, not a sha1 or md5 digest`);
}

function ngFields(ctx: LineCtx, d: string, name: string, extra?: { kind: 'sig' | 'buf'; bytes: Buffer }): Fields {
  const colon = d.lastIndexOf(':');
  const alg = colon < 0 ? '' : d.slice(0, colon);
  const digest = hex(ctx, d.slice(colon + 1), 'd-ng');
  const digestAlg = colon >= 0 ? alg : legacyAlg(ctx, digest.length);
  const problem = digestProblem(digestAlg, digest.length);
  if (problem !== undefined) fail(ctx, problem);
  const dField = colon < 0 ? lengthPrefixed(digest) : digestNgField(alg, digest);
  const parts = [dField, nameNgField(name)];
  if (extra) parts.push(lengthPrefixed(extra.bytes));
  return {
    hashInput: Buffer.concat(parts), digestAlg, digestAt: dField.length - digest.length, digestLen: digest.length, name,
    extraKind: extra?.kind ?? '', extraLen: extra?.bytes.length ?? 0,
  };
}
