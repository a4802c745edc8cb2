import { createSoftAk } from '@nodeward/e2e/sim';
import { ownedCopy } from '../binary/bytes.js';
import { prepareAk } from './prepared-ak.js';

/** Every Buffer a prepared AK keeps. */
function keptBuffers(ak: ReturnType<typeof prepareAk>): Uint8Array[] {
  const pub = ak.public;
  return [ak.name, pub.raw, pub.authPolicy, ...(pub.type === 'rsa' ? [pub.modulus] : [pub.x, pub.y])];
}

describe('prepareAk', () => {
  it.each(['rsassa', 'ecdsa'] as const)('%s: keeps no view into the caller\'s bytes or into Node\'s shared Buffer pool', (scheme) => {
    const soft = createSoftAk(scheme);
    // As the operator gets it: base64-decoded, so cut from the pool.
    const bytes = Buffer.from(soft.publicArea.toString('base64'), 'base64');
    expect(bytes.buffer.byteLength).toBeGreaterThan(bytes.length);
    const ak = prepareAk(bytes);
    expect(ak.name).toEqual(soft.name);
    for (const b of keptBuffers(ak)) {
      expect(b.buffer).not.toBe(bytes.buffer);
      // Its own memory, at most the AK's size: not an 8 KiB slab that one live view keeps whole.
      expect(b.buffer.byteLength).toBeLessThanOrEqual(bytes.length);
    }
  });

  it('rewriting the caller\'s Buffer leaves the prepared public area as it was, and the next call prepares again', () => {
    const bytes = Buffer.from(createSoftAk('rsassa').publicArea);
    const ak = prepareAk(bytes);
    const raw = Buffer.from(ak.public.raw);
    bytes.fill(0, 2);
    expect(Buffer.from(ak.public.raw)).toEqual(raw);
    expect(() => prepareAk(bytes)).toThrow();
  });
});

describe('ownedCopy', () => {
  it('copies into memory of exactly its size, independent of the source', () => {
    const pooled = Buffer.from('a small buffer from the pool');
    const copy = ownedCopy(pooled);
    expect(copy).toEqual(pooled);
    expect(copy.buffer.byteLength).toBe(pooled.length);
    pooled[0] = 0x41;
    expect(copy[0]).toBe(0x61);
    expect(ownedCopy(new Uint8Array(0))).toHaveLength(0);
  });
});
