import { ParseError } from './parse-error.js';

/**
 * A bounds-checked cursor over untrusted bytes. Every read names the structure being parsed so that
 * a failure says what was wrong and where; nothing but ParseError escapes.
 */
export class ByteReader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    readonly structure: string,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(detail: string, offset = this.pos): never {
    throw new ParseError(this.structure, offset, detail);
  }

  private need(n: number, what: string): void {
    if (!Number.isInteger(n) || n < 0 || n > this.remaining) {
      this.fail(`${what}: need ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16be(what = 'u16'): number {
    this.need(2, what);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32be(what = 'u32'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  u64be(what = 'u64'): bigint {
    const hi = this.u32be(what);
    const lo = this.u32be(what);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  u16le(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }

  u32le(what = 'u32'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  u64le(what = 'u64'): bigint {
    const lo = this.u32le(what);
    const hi = this.u32le(what);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** TPM2B_*: a big-endian u16 size followed by that many bytes, optionally bounded. */
  tpm2b(what: string, maxSize = 0xffff): Uint8Array {
    const size = this.u16be(`${what}.size`);
    if (size > maxSize) this.fail(`${what}.size ${size} exceeds ${maxSize}`, this.pos - 2);
    return this.bytes(size, what);
  }

  /**
   * Steps over the next n bytes and returns where they start: a field located, not read, without
   * a view or a sub-reader (parsers that stream 100,000 IMA entries keep positions only).
   */
  skip(n: number, what: string): number {
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** A sub-reader over the next n bytes; this reader skips past them. */
  sub(n: number, structure: string): ByteReader {
    this.need(n, structure);
    const r = new ByteReader(this.buf, structure, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Rejects trailing bytes: a structure that claims to be complete must be exactly complete. */
  expectEnd(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}
