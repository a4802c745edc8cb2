/**
 * Byte comparisons for parsers. Plain loops: the runs compared here are a few dozen bytes at most,
 * where wrapping them in Buffer views to call equals() costs more than the comparison.
 */

/** Whether `want` occurs in `src` at `at` (bytes past either end read as undefined: no match). */
export function bytesAt(src: Uint8Array, at: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (src[at + i] !== want[i]) return false;
  return true;
}

/** Whether two byte strings are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && bytesAt(a, 0, b);
}

/**
 * A lookup of names known in advance (template names, algorithm names) by their bytes: the shared
 * string of the one that spans exactly [at, end), so a parser makes no new string for the usual ones.
 */
export function knownNames(names: readonly string[]): (src: Uint8Array, at: number, end: number) => string | undefined {
  const table = names.map((name) => ({ name, bytes: Buffer.from(name, 'latin1') }));
  return (src, at, end) => {
    for (const t of table) if (t.bytes.length === end - at && bytesAt(src, at, t.bytes)) return t.name;
    return undefined;
  };
}

/**
 * A copy of `bytes` in memory of its own, for bytes kept for a long time. Buffer.from, Buffer.concat
 * and base64 decoding cut small buffers out of Node's shared 8 KiB pool, and one long-lived view
 * keeps its whole slab alive: at 2,000 nodes the operator's cached AKs held 2,560 slabs (20 MiB).
 */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.length);
  out.set(bytes);
  return out;
}
