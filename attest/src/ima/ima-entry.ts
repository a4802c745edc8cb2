import { knownNames } from '../binary/bytes.js';
import type { HashAlgName } from '../hash-alg.js';

/**
 * One entry of an IMA runtime measurement list, as parsed from untrusted bytes (binary or ASCII).
 * Nothing here is trusted until `verifyImaEntries` has checked the template hash, replayed PCR 10
 * against a quote and evaluated the runtime policy.
 *
 * Formats (linux security/integrity/ima/ima_fs.c, ima_template_lib.c):
 *   binary entry = pcr u32le | template hash (20 bytes sha1; 32 for a sha256 list) |
 *                  u32le name length | template name |
 *                  template `ima`:  digest[20] | u32le len | name (no NUL)       (no data length)
 *                  others:          u32le data length | fields, each u32le len | bytes
 *   d-ng  = "<alg>:\0" | digest        n-ng = name | "\0"        sig, buf = raw bytes
 */

/** Templates whose fields we understand; any other template parses (binary only) but fails policy. */
export const IMA_KNOWN_TEMPLATES = ['ima', 'ima-ng', 'ima-sig', 'ima-buf'] as const;
export type ImaKnownTemplate = (typeof IMA_KNOWN_TEMPLATES)[number];

/** Hash algorithm of the template hash column: sha1 for the classic list, sha256 (or another bank's) for `*_sha256` lists. */
export type ImaTemplateHashAlg = HashAlgName;

/** Sanity bounds on untrusted lengths (the kernel's own are smaller or equal). */
export const IMA_LIMITS = {
  /** Template names are short identifiers (`ima-ng`); the kernel has no larger ones. */
  templateNameMax: 255,
  /** Template data of one entry (ima-buf can carry keys and command lines, not more). */
  templateDataMax: 1024 * 1024,
  /** IMA_EVENT_NAME_LEN_MAX: the `ima` template's name field. */
  imaEventNameMax: 255,
  /** Longest algorithm prefix of a d-ng field (`verity:sha512`, with room to spare). */
  digestAlgMax: 64,
  /** Longest file digest (sha512 / streebog512). */
  digestMax: 64,
  /** PCRs 0-23. */
  pcrMax: 23,
} as const;

/** The `ima` template hashes its name zero-padded to IMA_EVENT_NAME_LEN_MAX + 1 bytes. */
export const IMA_TEMPLATE_NAME_FIELD = 256;

export interface ImaEntry {
  /** Position in the whole measurement list (0-based), not in the batch. */
  readonly index: number;
  /** Byte offset of the entry in the input it was parsed from. */
  readonly offset: number;
  readonly pcr: number;
  /** The template hash as logged; all zero for a violation. */
  readonly templateHash: Buffer;
  readonly template: string;
  /** The bytes the kernel hashes into the template hash and into every PCR bank. */
  readonly hashInput: Buffer;
  /** File digest algorithm (`sha256`, `sha1`, `ima:sha256`...); '' for an unknown template. */
  readonly digestAlg: string;
  /** File (or buffer) digest; empty for an unknown template. */
  readonly digest: Buffer;
  /** Path (or buffer name for ima-buf), without the NUL; '' for an unknown template. */
  readonly name: string;
  /** ima-sig signature (may be empty). */
  readonly sig?: Buffer;
  /** ima-buf buffer. */
  readonly buf?: Buffer;
}

/**
 * The parsers' ImaEntry: positions into the source bytes, with Buffer views made only on demand.
 * A list of 100,000 entries would otherwise allocate half a million views, and the garbage
 * collector would dominate verification. Positions are plain number fields (no span objects).
 */
export class ImaEntryView implements ImaEntry {
  index = 0;
  offset = 0;
  pcr = 0;
  template = '';
  digestAlg = '';
  /** The name's bytes in src (without the NUL), decoded only when asked for: see `name`. */
  nameAt = 0;
  nameLen = 0;
  nameText: string | undefined = undefined;
  hashAt = 0;
  hashLen = 0;
  dataAt = 0;
  dataLen = 0;
  digAt = 0;
  digLen = 0;
  extraAt = 0;
  extraLen = 0;
  /** Whether `extra` is the ima-sig signature or the ima-buf buffer. */
  extraKind: 'sig' | 'buf' | '' = '';
  /** Set when hashInput is not a range of src (the legacy `ima` template's padded name). */
  ownHashInput: Buffer | undefined = undefined;

  /** src for reads four bytes at a time (the policy lookup by path bytes). */
  readonly srcView: DataView;

  constructor(readonly src: Buffer) {
    this.srcView = new DataView(src.buffer, src.byteOffset, src.length);
  }

  /** Forgets the template-specific fields, so that one view can be reused for the next entry. */
  clear(): void {
    this.digestAlg = '';
    this.nameAt = this.nameLen = 0;
    this.nameText = undefined;
    this.dataAt = this.dataLen = this.digAt = this.digLen = this.extraAt = this.extraLen = 0;
    this.extraKind = '';
    this.ownHashInput = undefined;
  }

  private view(at: number, len: number): Buffer {
    return this.src.subarray(at, at + len);
  }
  /**
   * The name as UTF-8 (invalid sequences as U+FFFD), made on first use: verification of an entry
   * that passes looks its name up by its bytes and never needs the string.
   */
  get name(): string {
    return (this.nameText ??= this.src.toString('utf8', this.nameAt, this.nameAt + this.nameLen));
  }
  get templateHash(): Buffer {
    return this.view(this.hashAt, this.hashLen);
  }
  get hashInput(): Buffer {
    return this.ownHashInput ?? this.view(this.dataAt, this.dataLen);
  }
  get digest(): Buffer {
    return this.view(this.digAt, this.digLen);
  }
  get sig(): Buffer | undefined {
    return this.extraKind === 'sig' ? this.view(this.extraAt, this.extraLen) : undefined;
  }
  get buf(): Buffer | undefined {
    return this.extraKind === 'buf' ? this.view(this.extraAt, this.extraLen) : undefined;
  }
  digestHex(): string {
    return this.src.toString('hex', this.digAt, this.digAt + this.digLen);
  }
  /** Is the file digest exactly these bytes? */
  digestIs(want: Uint8Array): boolean {
    if (want.length !== this.digLen) return false;
    const src = this.src;
    const at = this.digAt;
    for (let i = 0; i < want.length; i++) if (want[i] !== src[at + i]) return false;
    return true;
  }
  /** Compares the logged template hash with a digest given as a latin1 string. */
  templateHashIs(latin1: string): boolean {
    if (latin1.length !== this.hashLen) return false;
    const src = this.src;
    const at = this.hashAt;
    for (let i = 0; i < latin1.length; i++) if (latin1.charCodeAt(i) !== src[at + i]) return false;
    return true;
  }
  isViolation(): boolean {
    const src = this.src;
    for (let i = this.hashAt; i < this.hashAt + this.hashLen; i++) if (src[i] !== 0) return false;
    return true;
  }
}

/** Lowercase hex of the file digest, without a Buffer view for parsed entries. */
export function digestHex(e: ImaEntry): string {
  return e instanceof ImaEntryView ? e.digestHex() : e.digest.toString('hex');
}

export function digestIs(e: ImaEntry, want: Buffer): boolean {
  return e instanceof ImaEntryView ? e.digestIs(want) : want.equals(e.digest);
}

/** The known template spanning [at, end) of src, as a shared string (the most frequent first). */
export const knownTemplateAt = knownNames(['ima-ng', 'ima-sig', 'ima-buf', 'ima']);

export function isKnownTemplate(t: string): t is ImaKnownTemplate {
  return t === 'ima-ng' || t === 'ima-sig' || t === 'ima-buf' || t === 'ima';
}

/** A violation (ToMToU, open-writers) is logged with an all-zero template hash. */
export function isViolation(entry: ImaEntry): boolean {
  if (entry instanceof ImaEntryView) return entry.isViolation();
  const h = entry.templateHash;
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

/** A zero-copy Buffer view of any Uint8Array. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
