import type { Hex } from '../wire.js';

/** Lowercase hex of bytes: the form digests take in policies, DTOs and failures. */
export function toHex(bytes: Uint8Array): Hex {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Policy and DTO hex compares case-insensitively; anything that is not hex never matches. */
export function normalizeHex(s: string): Hex | undefined {
  return /^(?:[0-9a-fA-F]{2})*$/.test(s) ? s.toLowerCase() : undefined;
}
