import { murmur3, sameBytesAt } from './byte-keys.js';

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

describe('murmur3', () => {
  // MurmurHash3_x86_32 reference outputs (SMHasher; the vectors widely used to check ports).
  it.each<[string, Buffer, number, number]>([
    ['empty, seed 0', Buffer.alloc(0), 0, 0],
    ['empty, seed 1', Buffer.alloc(0), 1, 0x514e28b7],
    ['empty, seed 0xffffffff', Buffer.alloc(0), 0xffffffff, 0x81f16f39],
    ['four zero bytes', Buffer.alloc(4), 0, 0x2362f9de],
    ['one block', Buffer.from('aaaa'), 0x9747b28c, 0x5a97808a],
    ['tail of 3', Buffer.from('abc'), 0, 0xb3dd93fa],
    ['tail of 1', Buffer.from('a'), 0x9747b28c, 0x7fa09ea6],
    ['blocks and a tail', Buffer.from('Hello, world!'), 0x9747b28c, 0x24884cba],
    ['a sentence', Buffer.from('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
  ])('%s', (_what, bytes, seed, expected) => {
    expect(murmur3(view(bytes), 0, bytes.length, seed) >>> 0).toBe(expected);
  });

  it('hashes the range only, wherever it sits', () => {
    const inside = Buffer.from('xxHello, world!yy');
    expect(murmur3(view(inside), 2, 15, 0x9747b28c) >>> 0).toBe(0x24884cba);
    // A view that starts inside its ArrayBuffer.
    expect(murmur3(view(inside.subarray(2, 15)), 0, 13, 0x9747b28c) >>> 0).toBe(0x24884cba);
  });
});

describe('sameBytesAt', () => {
  const a = view(Buffer.from('/usr/bin/bash\xff', 'latin1'));
  it.each<[string, string, number, number, number, boolean]>([
    ['equal, whole blocks and a tail', '/usr/bin/bash', 0, 0, 13, true],
    ['differs in the last byte of a block', '/usr/bin/bXsh', 0, 0, 13, false],
    ['differs in the tail', '/usr/bin/basH', 0, 0, 13, false],
    ['differs in the first byte', 'Xusr/bin/bash', 0, 0, 13, false],
    ['at offsets', '..bin/', 5, 2, 4, true],
    ['nothing', 'zzz', 3, 1, 0, true],
    ['bytes above 0x7f', 'h\xff', 12, 0, 2, true],
    ['past the end of one', '/usr/bin/bash', 0, 0, 14, false],
    ['before the start', '/usr', -1, 0, 4, false],
  ])('%s', (...[, other, aAt, bAt, len, expected]) => {
    expect(sameBytesAt(a, aAt, view(Buffer.from(other, 'latin1')), bAt, len)).toBe(expected);
  });
});
