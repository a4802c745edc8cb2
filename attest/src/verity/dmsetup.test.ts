import { ParseError } from '../binary/parse-error.js';
import { parseDmsetupStatus, parseDmsetupTable, parseVerityDevices } from './dmsetup.js';

const ROOT = 'a'.repeat(64);
const STATUS = ['root: 0 2097152 verity V', 'usr: 0 1048576 verity C', 'data: 0 4096 linear', 'var: 0 100 verity X'].join('\n');
const TABLE = [
  `root: 0 2097152 verity 1 259:1 259:2 4096 4096 262144 1 sha256 ${ROOT} ${'0'.repeat(64)}`,
  `usr: 0 1048576 verity 1 259:3 259:4 4096 4096 131072 1 sha256 ${'B'.repeat(64)} - 1 ignore_zero_blocks`,
  'data: 0 4096 linear 8:1 0',
  `lost: 0 10 verity 1 7:0 7:1 4096 4096 10 1 sha256 ${'c'.repeat(64)} -`,
].join('\n');

describe('dmsetup parsing', () => {
  it('combines status and table into VerityDeviceStatus', () => {
    expect(parseVerityDevices(STATUS + '\n', TABLE)).toEqual([
      { name: 'root', rootHash: ROOT, status: 'verified' },
      { name: 'usr', rootHash: 'b'.repeat(64), status: 'corrupted' },
      { name: 'lost', rootHash: 'c'.repeat(64), status: 'unknown' },
    ]);
  });

  it('maps V, C and anything else', () => {
    expect([...parseDmsetupStatus(STATUS)]).toEqual([['root', 'verified'], ['usr', 'corrupted'], ['var', 'unknown']]);
  });

  it('a device of several targets is as good as its worst', () => {
    expect(parseDmsetupStatus('r: 0 8 verity V\nr: 8 8 verity C').get('r')).toBe('corrupted');
  });

  it.each(['No devices found', '', '\n\n'])('no devices: %j', (text) => {
    expect(parseDmsetupTable(text).size).toBe(0);
    expect(parseDmsetupStatus(text).size).toBe(0);
  });

  it.each([
    { name: 'garbage', text: 'hello world', offset: 0 },
    { name: 'second line garbage', text: 'root: 0 8 verity V\nroot 0 8 verity V', offset: 19 },
    { name: 'non-numeric length', text: 'root: 0 x verity V', offset: 0 },
  ])('status: $name → ParseError', ({ text, offset }) => {
    expect(() => parseDmsetupStatus(text)).toThrow(ParseError);
    expect(() => parseDmsetupStatus(text)).toThrow(expect.objectContaining({ structure: 'dmsetup status', offset }));
  });

  it.each([
    { name: 'verity table without root hash', text: 'root: 0 8 verity 1 a b 4096 4096 1 1 sha256', offset: 0 },
    { name: 'verity root hash not hex', text: 'x: 0 8 linear 8:1 0\nroot: 0 8 verity 1 a b 4096 4096 1 1 sha256 zz -', offset: 20 },
    { name: 'two root hashes for one device', text: `root: 0 8 verity 1 a b 4096 4096 1 1 sha256 ${ROOT} -\nroot: 8 8 verity 1 a b 4096 4096 1 1 sha256 ${'d'.repeat(64)} -`, offset: 111 },
  ])('table: $name → ParseError', ({ text, offset }) => {
    expect(() => parseDmsetupTable(text)).toThrow(expect.objectContaining({ name: 'ParseError', structure: 'dmsetup table', offset }));
  });
});
