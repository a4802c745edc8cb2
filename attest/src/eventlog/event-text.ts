/** Best-effort text decoding of event data: firmware, grub and systemd log strings in ASCII or UTF-16LE. */

export interface EventText {
  readonly text: string;
  readonly encoding: 'ascii' | 'utf16le';
}

function isControl(c: number): boolean {
  // Control characters other than tab and newlines mean "not text".
  return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f;
}

/** Code units (1 or 2 bytes, little-endian) before the trailing NULs, if none of them is a control character. */
function textLength(data: Uint8Array, width: 1 | 2): number | undefined {
  const units = Math.floor(data.length / width);
  const at = (i: number): number => (width === 1 ? data[i]! : data[2 * i]! | (data[2 * i + 1]! << 8));
  let end = units;
  while (end > 0 && at(end - 1) === 0) end--;
  for (let i = 0; i < end; i++) if (isControl(at(i))) return undefined;
  return end > 0 ? end : undefined;
}

/** Decodes without throwing; invalid sequences (U+FFFD after decoding) mean "not text". */
function tryDecode(encoding: 'utf8' | 'utf16le', data: Uint8Array, bytes: number): string | undefined {
  const s = Buffer.from(data.buffer, data.byteOffset, bytes).toString(encoding);
  return s.includes('\ufffd') ? undefined : s;
}

/** The string without trailing NUL characters. */
export function trimNuls(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0) end--;
  return s.slice(0, end);
}

function looksUtf16(data: Uint8Array): boolean {
  return data.length >= 2 && data.length % 2 === 0 && data[1] === 0 && data[0] !== 0;
}

/** Event text without trailing NULs, or undefined when the bytes are not printable text. */
export function decodeEventText(data: Uint8Array): EventText | undefined {
  if (looksUtf16(data)) {
    const units = textLength(data, 2);
    const text = units === undefined ? undefined : tryDecode('utf16le', data, units * 2);
    if (text !== undefined) return { text, encoding: 'utf16le' };
  }
  const n = textLength(data, 1);
  const text = n === undefined ? undefined : tryDecode('utf8', data, n);
  return text === undefined ? undefined : { text, encoding: 'ascii' };
}

/** UTF-16LE bytes of a string, without a terminator. */
export function utf16le(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf16le'));
}

/** Data with one trailing NUL character (1 byte ASCII, 2 bytes UTF-16) removed, if present. */
export function withoutTrailingNul(data: Uint8Array, encoding: EventText['encoding']): Uint8Array {
  const w = encoding === 'utf16le' ? 2 : 1;
  if (data.length < w) return data;
  for (let i = data.length - w; i < data.length; i++) if (data[i] !== 0) return data;
  return data.subarray(0, data.length - w);
}
