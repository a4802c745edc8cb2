import { bytesAt, knownNames, sameBytes } from './bytes.js';

const src = Buffer.from('ima-ng sha256:');

describe('bytesAt', () => {
  it.each<[string, number, string, boolean]>([
    ['at the start', 0, 'ima-ng', true],
    ['in the middle', 7, 'sha256', true],
    ['a different byte', 0, 'ima-sg', false],
    ['running past the end', 11, 'sha256', false],
    ['before the start', -1, 'ima', false],
    ['nothing at the end', src.length, '', true],
  ])('%s', (_what, at, want, expected) => {
    expect(bytesAt(src, at, Buffer.from(want))).toBe(expected);
  });

  it('sameBytes needs equal lengths too', () => {
    expect(sameBytes(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(sameBytes(Buffer.from('abc'), Buffer.from('ab'))).toBe(false);
    expect(sameBytes(Buffer.from('ab'), Buffer.from('abc'))).toBe(false);
  });
});

describe('knownNames', () => {
  const find = knownNames(['ima-ng', 'ima']);
  it('returns the shared name spanning exactly [at, end), else undefined', () => {
    expect(find(src, 0, 6)).toBe('ima-ng');
    expect(find(src, 0, 3)).toBe('ima');
    expect(find(src, 0, 5)).toBeUndefined();
    expect(find(src, 7, 13)).toBeUndefined();
  });
});
