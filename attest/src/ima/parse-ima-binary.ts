import { ByteReader } from '../binary/reader.js';
import { ParseError } from '../binary/parse-error.js';
import { digestSize } from '../hash-alg.js';
import { asBuffer, IMA_LIMITS, ImaEntryView, knownTemplateAt, type ImaEntry, type ImaTemplateHashAlg } from './ima-entry.js';
import { imaTemplateHashInput, readDigestNg, readExtra, readNameNg } from './template-fields.js';

export interface ImaParseOptions {
  /** Template hash column: sha1 (binary_runtime_measurements) or sha256 (`..._sha256`). Default sha1. */
  templateHashAlg?: ImaTemplateHashAlg;
  /** Index of the first entry in the whole list (incremental reads start at N). Default 0. */
  firstIndex?: number;
}

const STRUCTURE = 'ima.binary_log';

/**
 * Parses binary_runtime_measurements (little-endian, as on x86 and with ima_canonical_fmt).
 * Returns untrusted entries whose byte fields are views into `bytes`. Throws only ParseError.
 */
export function parseImaBinaryLog(bytes: Uint8Array, opts: ImaParseOptions = {}): ImaEntry[] {
  const entries: ImaEntry[] = [];
  scanImaBinaryLog(bytes, opts, (e) => {
    entries.push(e);
    return true;
  }, false);
  return entries;
}

/**
 * Streams the entries to `visit` until it returns false. With `reuse`, one ImaEntryView is refilled
 * for every entry (the visitor must not keep it): verification then retains nothing per entry.
 * Throws only ParseError; entries before a malformed one have already been visited.
 */
export function scanImaBinaryLog(bytes: Uint8Array, opts: ImaParseOptions, visit: (e: ImaEntryView) => boolean, reuse: boolean): void {
  const src = asBuffer(bytes);
  const hashSize = digestSize(opts.templateHashAlg ?? 'sha1');
  const r = new ByteReader(src, STRUCTURE);
  let index = opts.firstIndex ?? 0;
  const shared = new ImaEntryView(src);
  while (r.remaining > 0) {
    const e = reuse ? shared : new ImaEntryView(src);
    e.clear();
    try {
      readEntry(r, src, hashSize, index, e);
    } catch (err) {
      if (err instanceof ParseError) throw new ParseError(`${STRUCTURE} entry ${index}`, err.offset, err.detail);
      throw err;
    }
    if (!visit(e)) return;
    index++;
  }
}

/** The template name, as one shared string for the known ones (no per-entry string). */
function templateName(src: Buffer, at: number, len: number): string {
  return knownTemplateAt(src, at, at + len) ?? src.toString('latin1', at, at + len);
}

function readEntry(r: ByteReader, src: Buffer, hashSize: number, index: number, e: ImaEntryView): void {
  e.index = index;
  e.offset = r.offset;
  e.pcr = r.u32le('pcr');
  if (e.pcr > IMA_LIMITS.pcrMax) r.fail(`pcr ${e.pcr} is not a PCR index`, e.offset);
  e.hashAt = r.skip(hashSize, 'template_hash');
  e.hashLen = hashSize;
  const nameAt = r.offset;
  const nameLen = r.u32le('template_name.length');
  if (nameLen === 0 || nameLen > IMA_LIMITS.templateNameMax) {
    r.fail(`template_name.length ${nameLen} not in 1..${IMA_LIMITS.templateNameMax}`, nameAt);
  }
  e.template = templateName(src, r.skip(nameLen, 'template_name'), nameLen);
  if (e.template === 'ima') readImaTemplate(r, src, e);
  else readTemplateData(r, src, e);
}

/** The legacy `ima` template: digest[20] | u32le len | name, no data length (IMA_SHOW_BINARY_OLD_STRING_FMT). */
function readImaTemplate(r: ByteReader, src: Buffer, e: ImaEntryView): void {
  e.digAt = r.skip(20, 'ima.digest');
  e.digLen = 20;
  e.digestAlg = 'sha1';
  const at = r.offset;
  const len = r.u32le('ima.name.length');
  if (len > IMA_LIMITS.imaEventNameMax) r.fail(`ima.name.length ${len} exceeds ${IMA_LIMITS.imaEventNameMax}`, at);
  const nameAt = r.skip(len, 'ima.name');
  e.nameAt = nameAt;
  e.nameLen = len;
  e.ownHashInput = imaTemplateHashInput(src.subarray(e.digAt, e.digAt + 20), src.subarray(nameAt, nameAt + len));
}

/** Every other template: u32le data length | fields; the template hash covers exactly the data. */
function readTemplateData(r: ByteReader, src: Buffer, e: ImaEntryView): void {
  const lenAt = r.offset;
  const len = r.u32le('template_data.length');
  if (len > IMA_LIMITS.templateDataMax) r.fail(`template_data.length ${len} exceeds ${IMA_LIMITS.templateDataMax}`, lenAt);
  const d = r.sub(len, 'template_data');
  e.dataAt = d.offset;
  e.dataLen = len;
  const t = e.template;
  // Unknown template: opaque data, still hashed and replayed; the policy rejects it.
  if (t !== 'ima-ng' && t !== 'ima-sig' && t !== 'ima-buf') return;
  readDigestNg(d, src, e);
  readNameNg(d, src, e);
  if (t !== 'ima-ng') readExtra(d, e, t === 'ima-sig' ? 'sig' : 'buf');
  d.expectEnd();
}
