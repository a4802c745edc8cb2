import { ParseError } from '../binary/parse-error.js';
import { digestSize } from '../hash-alg.js';
import { knownNames } from '../binary/bytes.js';
import { asBuffer, IMA_LIMITS, IMA_TEMPLATE_NAME_FIELD, ImaEntryView, knownTemplateAt, type ImaEntry } from './ima-entry.js';
import type { ImaParseOptions } from './parse-ima-binary.js';
import { digestProblem } from './template-fields.js';

/**
 * Parses ascii_runtime_measurements: one entry per line,
 *   `<pcr> <template hash hex> <template> <fields, each preceded by one space>`
 * e.g. `10 <sha1> ima-ng sha256:<hex> /usr/bin/bash`. The template data is rebuilt in its binary
 * form so the template hash and the PCR banks can be checked exactly as for the binary list.
 * The kernel writes every field after a space, even an empty one (`ima-sig` without a signature
 * ends with a space), and replaces spaces in names with `_`. A name goes into the template data as
 * the bytes printed (the bytes hashed, even when they are not UTF-8), as the binary parser keeps them.
 * Throws only ParseError. Returns entries that each own their rebuilt bytes.
 */
export function parseImaAsciiLog(bytes: Uint8Array, opts: ImaParseOptions = {}): ImaEntry[] {
  const entries: ImaEntry[] = [];
  scanImaAsciiLog(bytes, opts, (e) => {
    entries.push(e);
    return true;
  }, false);
  return entries;
}

/**
 * Streams the entries to `visit` until it returns false, as scanImaBinaryLog does. The line is read
 * as bytes (only the name becomes a string) and its template hash and rebuilt template data are
 * written into one growable scratch buffer. With `reuse`, that buffer and one ImaEntryView are
 * refilled for every line (the visitor must not keep the entry); without, each entry gets a copy.
 * Throws only ParseError; entries before a malformed line have already been visited.
 */
export function scanImaAsciiLog(bytes: Uint8Array, opts: ImaParseOptions, visit: (e: ImaEntryView) => boolean, reuse: boolean): void {
  const src = asBuffer(bytes);
  const out = new Scratch();
  const line: Line = { src, out, index: opts.firstIndex ?? 0, offset: 0, end: 0, hashLen: digestSize(opts.templateHashAlg ?? 'sha1') };
  for (let pos = 0; pos < src.length; pos = line.end + 1) {
    const nl = src.indexOf(NL, pos);
    line.offset = pos;
    line.end = nl < 0 ? src.length : nl;
    if (line.end === pos) continue;
    const e = parseLine(line);
    if (!visit(reuse ? e : ownCopy(e))) return;
    line.index++;
  }
}

const NL = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;

/** The line being read: [offset, end) of src, rebuilt into out. */
interface Line {
  readonly src: Buffer;
  readonly out: Scratch;
  index: number;
  offset: number;
  end: number;
  /** Bytes of the template hash column. */
  readonly hashLen: number;
}

/** Template hash then template data of one entry, in a buffer that grows (never shrinks) across lines. */
class Scratch {
  buf = Buffer.allocUnsafe(1024);
  view = new ImaEntryView(this.buf);

  /** At least n bytes, keeping what was written; a new buffer comes with a new view. */
  reserve(n: number): Buffer {
    if (n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(n, 2 * this.buf.length));
      this.buf.copy(grown);
      this.buf = grown;
      this.view = new ImaEntryView(grown);
    }
    return this.buf;
  }
}

/** The same entry over its own copy of the bytes (for callers that keep entries). */
function ownCopy(e: ImaEntryView): ImaEntryView {
  const own = Buffer.from(e.src.subarray(0, e.dataAt + e.dataLen));
  const copy = new ImaEntryView(own);
  return Object.assign(copy, e, { src: own, srcView: copy.srcView });
}

function fail(line: Line, detail: string): never {
  throw new ParseError(`ima.ascii_log entry ${line.index}`, line.offset, detail);
}

/** The text of [at, end) for a message, as the string-based parser showed it. */
function text(line: Line, at: number, end: number, max: number): string {
  return JSON.stringify(line.src.toString('utf8', at, Math.min(end, at + 4 * max)).slice(0, max));
}

/** Next space in [at, line end), or a malformed line. */
function space(line: Line, at: number, what: string): number {
  const i = line.src.indexOf(SPACE, at);
  if (i < 0 || i >= line.end) fail(line, `missing ${what}`);
  return i;
}

const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/**
 * Decodes the hex in [at, end) of the line into the scratch buffer (already reserved) at `to`;
 * failing on anything but pairs of hex digits.
 */
function hexInto(line: Line, at: number, end: number, to: number, what: string): void {
  const src = line.src;
  const out = line.out.buf;
  if ((end - at) % 2 !== 0) fail(line, `${what} is not hex: ${text(line, at, end, 80)}`);
  for (let i = at, o = to; i < end; i += 2, o++) {
    const hi = HEX_VALUE[src[i]!]!;
    const lo = HEX_VALUE[src[i + 1]!]!;
    if ((hi | lo) < 0) fail(line, `${what} is not hex: ${text(line, at, end, 80)}`);
    out[o] = (hi << 4) | lo;
  }
}

/** A hex column of a fixed number of digits, counted in characters as the message says. */
function fixedLength(line: Line, at: number, end: number, digits: number, problem: (n: number) => string): void {
  if (end - at === digits) return;
  const chars = line.src.toString('utf8', at, end).length;
  // Same number of characters but not of bytes: not hex, which the decoding then reports.
  if (chars !== digits) fail(line, problem(chars));
}

function parseLine(line: Line): ImaEntryView {
  const { offset, hashLen } = line;
  const s1 = space(line, offset, 'template hash');
  const s2 = space(line, s1 + 1, 'template name');
  const s3 = space(line, s2 + 1, 'template data');
  const pcr = pcrAt(line, offset, s1);
  fixedLength(line, s1 + 1, s2, 2 * hashLen, (n) => `template hash has ${n} hex digits, expected ${2 * hashLen}`);
  line.out.reserve(hashLen);
  hexInto(line, s1 + 1, s2, 0, 'template hash');
  const template = templateAt(line, s2 + 1, s3);
  const e = template === 'ima' ? imaFields(line, s3 + 1) : ngFields(line, s3 + 1, template);
  e.index = line.index;
  e.offset = offset;
  e.pcr = pcr;
  e.template = template;
  e.hashAt = 0;
  e.hashLen = hashLen;
  e.dataAt = hashLen;
  return e;
}

/** One or two decimal digits, at most IMA_LIMITS.pcrMax. */
function pcrAt(line: Line, at: number, end: number): number {
  const src = line.src;
  let pcr = -1;
  if (end - at >= 1 && end - at <= 2) {
    pcr = 0;
    for (let i = at; i < end && pcr >= 0; i++) pcr = src[i]! >= 0x30 && src[i]! <= 0x39 ? 10 * pcr + src[i]! - 0x30 : -1;
  }
  if (pcr < 0 || pcr > IMA_LIMITS.pcrMax) fail(line, `pcr ${text(line, at, end, 20)} is not a PCR index`);
  return pcr;
}

/** One of the templates readable from an ASCII list, as a shared string. */
function templateAt(line: Line, at: number, end: number): string {
  const known = knownTemplateAt(line.src, at, end);
  if (known !== undefined) return known;
  const template = line.src.toString('utf8', at, end);
  if (template.length === 0 || template.length > IMA_LIMITS.templateNameMax) fail(line, 'bad template name');
  return fail(line, `template ${JSON.stringify(template.slice(0, 40))} cannot be read from an ASCII list`);
}

/**
 * `ima`: bare sha1 digest and a name of at most 255 bytes; hashed as digest || name zero-padded to
 * 256 bytes (no length fields).
 */
function imaFields(line: Line, at: number): ImaEntryView {
  const { src, hashLen } = line;
  const sp = space(line, at, 'n');
  fixedLength(line, at, sp, 40, () => 'ima template digest is not 40 hex digits');
  const out = line.out.reserve(hashLen + 20 + IMA_TEMPLATE_NAME_FIELD);
  hexInto(line, at, sp, hashLen, 'd');
  const nameLen = line.end - (sp + 1);
  if (nameLen > IMA_LIMITS.imaEventNameMax) fail(line, `ima template name exceeds ${IMA_LIMITS.imaEventNameMax} bytes`);
  copyInto(out, hashLen + 20, src, sp + 1, line.end);
  out.fill(0, hashLen + 20 + nameLen, hashLen + 20 + IMA_TEMPLATE_NAME_FIELD);
  const e = line.out.view;
  e.clear();
  e.dataLen = 20 + IMA_TEMPLATE_NAME_FIELD;
  e.digestAlg = 'sha1';
  e.digAt = hashLen;
  e.digLen = 20;
  e.nameAt = hashLen + 20;
  e.nameLen = nameLen;
  e.extraAt = hashLen + e.dataLen;
  return e;
}

/** Where the fields of an ima-ng, ima-sig or ima-buf line are. */
interface NgLayout {
  /** `[<alg>:]<hex digest>`, and its last colon or -1. */
  readonly dAt: number;
  readonly colon: number;
  readonly nameAt: number;
  readonly nameEnd: number;
  /** sig or buf hex (after the last space: hex has no spaces, old kernels' names might). */
  readonly extraKind: 'sig' | 'buf' | '';
  readonly extraEnd: number;
}

function ngLayout(line: Line, at: number, template: string): NgLayout {
  const sp = space(line, at, 'n-ng');
  const colon = lastColon(line.src, at, sp);
  if (template === 'ima-ng') return { dAt: at, colon, nameAt: sp + 1, nameEnd: line.end, extraKind: '', extraEnd: line.end };
  const extraKind = template === 'ima-sig' ? 'sig' : 'buf';
  const last = line.src.lastIndexOf(SPACE, line.end - 1);
  if (last <= sp) fail(line, `missing ${extraKind} field`);
  return { dAt: at, colon, nameAt: sp + 1, nameEnd: last, extraKind, extraEnd: line.end };
}

/** The last colon in [at, end), or -1 (bounded: Buffer.lastIndexOf would search the lines before). */
function lastColon(src: Buffer, at: number, end: number): number {
  for (let i = end - 1; i >= at; i--) if (src[i] === COLON) return i;
  return -1;
}

const half = (n: number): number => Math.floor(n / 2);

/**
 * ima-ng, ima-sig, ima-buf: template data = d-ng | n-ng [| sig or buf], each field u32le length | bytes,
 * d-ng = `<alg>:\0` | digest (a bare sha1 or md5 digest without "<alg>:"), n-ng = name | NUL.
 */
function ngFields(line: Line, at: number, template: string): ImaEntryView {
  const { src, hashLen } = line;
  const l = ngLayout(line, at, template);
  const digestHexAt = l.colon < 0 ? l.dAt : l.colon + 1;
  const dEnd = l.nameAt - 1;
  const prefixLen = l.colon < 0 ? 0 : l.colon - l.dAt + 2;
  const digestLen = half(dEnd - digestHexAt);
  const nameField = 4 + l.nameEnd - l.nameAt + 1;
  const extraLen = l.extraKind === '' ? 0 : half(l.extraEnd - l.nameEnd - 1);
  const extraField = l.extraKind === '' ? 0 : 4 + extraLen;
  const digAt = hashLen + 4 + prefixLen;
  const nameAt = digAt + digestLen;
  const dataLen = 4 + prefixLen + digestLen + nameField + extraField;
  const out = line.out.reserve(hashLen + dataLen);
  if (l.extraKind !== '') hexInto(line, l.nameEnd + 1, l.extraEnd, nameAt + nameField + 4, l.extraKind);
  hexInto(line, digestHexAt, dEnd, digAt, 'd-ng');
  const digestAlg = l.colon < 0 ? legacyAlg(line, digestLen) : algAt(src, l.dAt, l.colon);
  const problem = digestProblem(digestAlg, digestLen);
  if (problem !== undefined) fail(line, problem);
  if (dataLen > IMA_LIMITS.templateDataMax) fail(line, `template data exceeds ${IMA_LIMITS.templateDataMax} bytes`);
  writeNgFields(line, l, out, digAt, nameAt);
  const e = line.out.view;
  e.clear();
  e.dataLen = dataLen;
  e.digestAlg = digestAlg;
  e.digAt = digAt;
  e.digLen = digestLen;
  e.nameAt = nameAt + 4;
  e.nameLen = l.nameEnd - l.nameAt;
  e.extraKind = l.extraKind;
  e.extraLen = extraLen;
  e.extraAt = hashLen + dataLen - extraLen;
  return e;
}

/** The length prefixes, `<alg>:\0` and the name around the digest and extra already decoded. */
function writeNgFields(line: Line, l: NgLayout, out: Buffer, digAt: number, nameAt: number): void {
  const at = line.hashLen;
  out.writeUInt32LE(nameAt - at - 4, at);
  if (l.colon >= 0) {
    copyInto(out, at + 4, line.src, l.dAt, l.colon);
    out[digAt - 2] = COLON;
    out[digAt - 1] = 0;
  }
  const nameLen = l.nameEnd - l.nameAt;
  out.writeUInt32LE(nameLen + 1, nameAt);
  copyInto(out, nameAt + 4, line.src, l.nameAt, l.nameEnd);
  out[nameAt + 4 + nameLen] = 0;
  if (l.extraKind !== '') out.writeUInt32LE(half(l.extraEnd - l.nameEnd - 1), nameAt + 4 + nameLen + 1);
}

/**
 * src[at, end) into out at `to`, both already bounds-checked: a loop, as Buffer.copy's native call
 * costs more than copying a path or an algorithm name, and this runs for every line.
 */
function copyInto(out: Buffer, to: number, src: Buffer, at: number, end: number): void {
  for (let i = at, o = to; i < end; i++, o++) out[o] = src[i]!;
}

const usualAlgAt = knownNames(['sha256', 'sha1', 'sha384', 'sha512']);

/** The d-ng algorithm, as a shared string for the usual ones. */
function algAt(src: Buffer, at: number, end: number): string {
  return usualAlgAt(src, at, end) ?? src.toString('utf8', at, end);
}

/** A d-ng without "<alg>:" is a bare sha1 or md5 digest. */
function legacyAlg(line: Line, len: number): string {
  if (len === 20) return 'sha1';
  if (len === 16) return 'md5';
  return fail(line, `d-ng without "<alg>:" has ${len} bytes, not a sha1 or md5 digest`);
}
