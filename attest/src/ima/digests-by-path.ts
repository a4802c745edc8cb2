import { randomInt } from 'node:crypto';
import { murmur3, sameBytesAt } from '../binary/byte-keys.js';

/**
 * A policy's allowed digests per path, keyed by the path's bytes: whether an entry's path (in place
 * in the log) lists its digest (in place too), without making a string or a view. The path is
 * hashed and each candidate confirmed byte by byte, so paths whose hashes collide never match each
 * other. Laid out for few cache misses over 100,000 paths: a slot is two ints (the path's hash and
 * where its record starts), a record the path's length, its digest count, its bytes and then its
 * digests (each a length byte and the digest): one slot and one record per lookup.
 */
export class DigestsByPath {
  /** Per slot: hash, record start + 1 (0: an empty slot). */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly records: DataView;
  /** Per table, so nobody can pick paths that pile up in one probe sequence in advance. */
  private readonly seed: number;
  readonly size: number;

  /**
   * Paths must be distinct. `seed` is for tests; default random. Paths too long (over 65,535 bytes)
   * or with too many digests (over 255) are left out: `fits` says which.
   */
  constructor(entries: Iterable<readonly [Uint8Array, readonly Uint8Array[]]>, seed: number = randomInt(2 ** 32)) {
    const list = [...entries].filter(([path, digests]) => DigestsByPath.fits(path, digests));
    this.seed = seed;
    this.size = list.length;
    let slots = 8;
    // At most 3/4 full: linear probing stays within a cache line or two.
    while (4 * list.length > 3 * slots) slots *= 2;
    this.slots = new Int32Array(2 * slots);
    this.mask = slots - 1;
    const bytes = list.reduce((n, [path, digests]) => n + HEADER + path.length + digests.reduce((m, d) => m + 1 + d.length, 0), 0);
    this.records = new DataView(new ArrayBuffer(bytes));
    let at = 0;
    for (const [path, digests] of list) at = this.add(at, path, digests);
  }

  static fits(path: Uint8Array, digests: readonly Uint8Array[]): boolean {
    return path.length <= 0xffff && digests.length <= 0xff && digests.every((d) => d.length <= 0xff);
  }

  /**
   * Whether the path src[at, end) is in the table with the digest src[digestAt, digestAt + digestLen).
   * `src` is read through a DataView (four bytes per comparison).
   */
  allows(src: DataView, at: number, end: number, digestAt: number, digestLen: number): boolean {
    const record = this.find(murmur3(src, at, end, this.seed), src, at, end);
    if (record < 0) return false;
    const r = this.records;
    let d = record + HEADER + (end - at);
    for (let n = r.getUint8(record + 2); n > 0; n--, d += 1 + r.getUint8(d)) {
      if (r.getUint8(d) === digestLen && sameBytesAt(r, d + 1, src, digestAt, digestLen)) return true;
    }
    return false;
  }

  /** Whether the path src[at, end) is in the table (with any digests). */
  has(src: DataView, at: number, end: number): boolean {
    return this.find(murmur3(src, at, end, this.seed), src, at, end) >= 0;
  }

  /** Start of the record of the path src[at, end) with this hash, or -1. */
  private find(hash: number, src: DataView, at: number, end: number): number {
    const { slots, records, mask } = this;
    const len = end - at;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const record = slots[2 * slot + 1]! - 1;
      if (record < 0) return -1;
      if (slots[2 * slot] === hash && records.getUint16(record, true) === len && sameBytesAt(records, record + HEADER, src, at, len)) {
        return record;
      }
    }
  }

  /**
   * Writes the record at `at` and fills a free slot; returns where the next record goes. The path is
   * hashed where it was just written, so compiling a policy makes no object per path.
   */
  private add(at: number, path: Uint8Array, digests: readonly Uint8Array[]): number {
    const r = this.records;
    const bytes = new Uint8Array(r.buffer);
    r.setUint16(at, path.length, true);
    r.setUint8(at + 2, digests.length);
    const pathAt = at + HEADER;
    bytes.set(path, pathAt);
    const hash = murmur3(r, pathAt, pathAt + path.length, this.seed);
    if (this.find(hash, r, pathAt, pathAt + path.length) >= 0) throw new RangeError('DigestsByPath: a path is given twice');
    let slot = hash & this.mask;
    while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & this.mask;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = at + 1;
    let next = pathAt + path.length;
    for (const d of digests) {
      bytes[next] = d.length;
      bytes.set(d, next + 1);
      next += 1 + d.length;
    }
    return next;
  }
}

/** u16le path length, u8 digest count. */
const HEADER = 3;
