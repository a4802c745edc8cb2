import { createHash } from 'node:crypto';
import { murmur3 } from '../binary/byte-keys.js';
import { DigestsByPath } from './digests-by-path.js';

const SEED = 0x5eed;
const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
const sha1 = (s: string): Buffer => createHash('sha1').update(s).digest();
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** An entry as the log holds it: some bytes before, the path, then the digest (as in an ima-ng entry). */
function lookUp(table: DigestsByPath, path: Buffer, digest: Buffer): boolean {
  const src = Buffer.concat([Buffer.from('\x0a\x00\x00\x00pad'), path, digest]);
  return table.allows(view(src), 7, 7 + path.length, 7 + path.length, digest.length);
}

/** Two different paths with the same murmur3 hash under SEED (found by search: 32 bits, a few 100k tries). */
function collidingPaths(): [Buffer, Buffer] {
  const seen = new Map<number, Buffer>();
  for (let i = 0; ; i++) {
    const p = Buffer.from(`/usr/lib/x-${i.toString(36)}.so`);
    const h = murmur3(view(p), 0, p.length, SEED);
    const other = seen.get(h);
    if (other !== undefined) return [other, p];
    seen.set(h, p);
  }
}

describe('DigestsByPath', () => {
  const [first, second] = collidingPaths();
  const third = Buffer.from('/usr/bin/ba');
  const table = new DigestsByPath([
    [first, [sha256('first')]],
    [second, [sha256('second')]],
    [latin1('/usr/bin/bash'), [sha256('bash'), sha1('bash')]],
    [third, [sha256('ba')]],
    [latin1('/opt/\xff\xfe'), [sha256('invalid utf-8')]],
    [Buffer.alloc(0), [sha256('empty')]],
    [latin1('/etc/no-digests'), []],
  ], SEED);

  it('found two paths whose hashes collide', () => {
    expect(first.equals(second)).toBe(false);
    expect(murmur3(view(first), 0, first.length, SEED)).toBe(murmur3(view(second), 0, second.length, SEED));
  });

  it.each<[string, Buffer, Buffer, boolean]>([
    ['a path with its digest', latin1('/usr/bin/bash'), sha256('bash'), true],
    ['a path with its second digest, of another length', latin1('/usr/bin/bash'), sha1('bash'), true],
    ['a path with a digest it does not list', latin1('/usr/bin/bash'), sha256('evil'), false],
    ['a listed digest cut short', latin1('/usr/bin/bash'), sha256('bash').subarray(0, 20), false],
    ['a path with another path\'s digest', third, sha256('bash'), false],
    ['a path that is a prefix of a listed one', latin1('/usr/bin/bas'), sha256('bash'), false],
    ['a listed path that is a prefix of another listed one', third, sha256('ba'), true],
    ['a path that extends a listed one', latin1('/usr/bin/bash2'), sha256('bash'), false],
    ['the first of two colliding paths', first, sha256('first'), true],
    ['the second of two colliding paths', second, sha256('second'), true],
    ['a colliding path with the other\'s digest', first, sha256('second'), false],
    ['the other colliding path with the first\'s digest', second, sha256('first'), false],
    ['bytes that are not UTF-8, as listed', latin1('/opt/\xff\xfe'), sha256('invalid utf-8'), true],
    ['other invalid bytes (the same string once decoded)', latin1('/opt/\xfe\xff'), sha256('invalid utf-8'), false],
    ['the replacement characters they decode to', Buffer.from('/opt/\ufffd\ufffd'), sha256('invalid utf-8'), false],
    ['the empty path', Buffer.alloc(0), sha256('empty'), true],
    ['a listed path without digests', latin1('/etc/no-digests'), sha256('x'), false],
    ['a path not listed', latin1('/usr/bin/zsh'), sha256('bash'), false],
  ])('%s', (_what, path, digest, allowed) => {
    expect(lookUp(table, path, digest)).toBe(allowed);
  });

  it('tells listed paths from others whatever their digests', () => {
    const has = (p: Buffer): boolean => table.has(view(p), 0, p.length);
    expect([first, second, third, latin1('/etc/no-digests')].map(has)).toEqual([true, true, true, true]);
    expect([latin1('/usr/bin/bas'), latin1('/opt/\xfe\xff'), Buffer.from('x')].map(has)).toEqual([false, false, false]);
  });

  it('agrees with a Map over many paths, with any seed, whether full or nearly empty', () => {
    for (const [count, seed] of [[3, 1], [5000, 2], [5000, 0xffffffff]] as const) {
      const paths = Array.from({ length: count }, (_, i) => latin1(`/p/${(i * 7919).toString(36)}`));
      const byName = new Map(paths.map((p, i) => [p.toString('latin1'), sha256(String(i))]));
      const t = new DigestsByPath(paths.map((p, i) => [p, [sha256(String(i))]]), seed);
      expect(t.size).toBe(count);
      for (let i = 0; i < 2 * count; i++) {
        const probe = latin1(`/p/${(i * 7919).toString(36)}`);
        const want = byName.get(probe.toString('latin1'));
        expect(lookUp(t, probe, sha256(String(i)))).toBe(want !== undefined);
        if (want !== undefined) expect(lookUp(t, probe, sha256(String(i + 1)))).toBe(false);
      }
    }
  });

  it('refuses a path given twice, and leaves out what its records cannot hold', () => {
    expect(() => new DigestsByPath([[latin1('/a'), []], [latin1('/a'), []]], SEED)).toThrow(RangeError);
    const long = Buffer.alloc(0x10000, 0x61);
    const many = Array.from({ length: 256 }, (_, i) => sha256(String(i)));
    const t = new DigestsByPath([[long, [sha256('x')]], [latin1('/many'), many], [latin1('/ok'), [sha256('x')]]], SEED);
    expect(t.size).toBe(1);
    expect(lookUp(t, long, sha256('x'))).toBe(false);
    expect(lookUp(t, latin1('/many'), many[0]!)).toBe(false);
    expect(lookUp(t, latin1('/ok'), sha256('x'))).toBe(true);
  });
});
