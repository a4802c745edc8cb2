import { createHash } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { IMA_LIMITS } from './ima-entry.js';
import { parseImaBinaryLog } from './parse-ima-binary.js';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};
const str = (s: string): Buffer => Buffer.from(s, 'latin1');
const lp = (b: Buffer): Buffer => Buffer.concat([u32(b.length), b]);
const sha1 = (b: Buffer): Buffer => createHash('sha1').update(b).digest();
const fileDigest = Buffer.alloc(32, 0xab);
const sigBytes = Buffer.from('030204aabbccdd0002beef', 'hex');
const keyBytes = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x0a]), Buffer.alloc(8, 1)]);

// Template data, field by field, as ima_template_lib.c writes it.
const dng = lp(Buffer.concat([str('sha256:\0'), fileDigest])); // d-ng: u32 len | "sha256:" NUL | digest[32]
const nng = lp(str('/usr/bin/bash\0')); // n-ng: u32 len | name | NUL
const ngData = Buffer.concat([dng, nng]);
const sigData = Buffer.concat([dng, nng, lp(sigBytes)]); // ima-sig: d-ng | n-ng | sig
const bufData = Buffer.concat([lp(Buffer.concat([str('sha256:\0'), fileDigest])), lp(str('.ima\0')), lp(keyBytes)]); // ima-buf: d-ng | n-ng | buf

function withData(template: string, data: Buffer, hash = sha1(data)): Buffer {
  return Buffer.concat([
    u32(10), // pcr
    hash, // template hash: sha1(template data)
    lp(str(template)), // u32 len | template name (no NUL)
    lp(data), // u32 len | template data
  ]);
}

// `ima` template: no data length; d = 20 bytes, n = u32 len | name (strlen, no NUL).
const imaDigest = Buffer.alloc(20, 0x11);
const imaName = str('/sbin/init');
const imaPadded = Buffer.concat([imaDigest, imaName, Buffer.alloc(256 - imaName.length)]);
const imaEntry = Buffer.concat([u32(10), sha1(imaPadded), lp(str('ima')), imaDigest, lp(imaName)]);

describe('parseImaBinaryLog', () => {
  it.each([
    ['ima-ng', withData('ima-ng', ngData), { name: '/usr/bin/bash', digestAlg: 'sha256', digest: fileDigest, hashInput: ngData }],
    ['ima-sig', withData('ima-sig', sigData), { name: '/usr/bin/bash', digestAlg: 'sha256', sig: sigBytes, hashInput: sigData }],
    ['ima-buf', withData('ima-buf', bufData), { name: '.ima', digestAlg: 'sha256', buf: keyBytes, hashInput: bufData }],
    ['ima', imaEntry, { name: '/sbin/init', digestAlg: 'sha1', digest: imaDigest, hashInput: imaPadded }],
    ['unknown template', withData('my-tmpl', str('opaque')), { name: '', digestAlg: '', hashInput: str('opaque') }],
  ])('reads a %s entry', (_t, bytes, want) => {
    const [e, ...rest] = parseImaBinaryLog(bytes, { firstIndex: 7 });
    expect(rest).toHaveLength(0);
    expect(e).toMatchObject({ index: 7, offset: 0, pcr: 10, ...want });
  });

  it('reads several entries with their offsets and indexes', () => {
    const a = withData('ima-ng', ngData);
    const log = Buffer.concat([a, imaEntry, a]);
    const entries = parseImaBinaryLog(log);
    expect(entries.map((e) => [e.index, e.offset, e.template])).toEqual([[0, 0, 'ima-ng'], [1, a.length, 'ima'], [2, a.length + imaEntry.length, 'ima-ng']]);
    expect(parseImaBinaryLog(new Uint8Array(0))).toEqual([]);
  });

  it('reads a list whose template hash is sha256', () => {
    const bytes = withData('ima-ng', ngData, createHash('sha256').update(ngData).digest());
    expect(parseImaBinaryLog(bytes, { templateHashAlg: 'sha256' })[0]!.templateHash).toHaveLength(32);
    expect(() => parseImaBinaryLog(bytes)).toThrow(ParseError);
  });

  it('reads a legacy d-ng without the algorithm prefix as sha1', () => {
    const data = Buffer.concat([lp(Buffer.alloc(20, 3)), nng]);
    expect(parseImaBinaryLog(withData('ima-ng', data))[0]).toMatchObject({ digestAlg: 'sha1', digest: Buffer.alloc(20, 3) });
  });

  const head = (name: string): Buffer => Buffer.concat([u32(10), Buffer.alloc(20), lp(str(name))]);
  it.each([
    ['pcr beyond 23', Buffer.concat([u32(99), Buffer.alloc(20), lp(str('ima-ng')), lp(ngData)]), 'pcr'],
    ['huge template name length', Buffer.concat([u32(10), Buffer.alloc(20), u32(0xffffffff), str('ima-ng')]), 'template_name.length'],
    ['empty template name', Buffer.concat([u32(10), Buffer.alloc(20), u32(0)]), 'template_name.length'],
    ['template name of 256 bytes', Buffer.concat([u32(10), Buffer.alloc(20), u32(256), Buffer.alloc(256, 0x61)]), 'template_name.length'],
    ['huge template data length', Buffer.concat([head('ima-ng'), u32(0xfffffff0)]), 'template_data.length'],
    ['data length just over the bound', Buffer.concat([head('ima-ng'), u32(IMA_LIMITS.templateDataMax + 1)]), 'template_data.length'],
    ['data length beyond the input', Buffer.concat([head('ima-ng'), u32(1000), ngData]), 'template_data'],
    ['d-ng longer than the data', Buffer.concat([head('ima-ng'), lp(Buffer.concat([u32(500), Buffer.alloc(10)]))]), 'd-ng'],
    ['n-ng without NUL', Buffer.concat([head('ima-ng'), lp(Buffer.concat([dng, lp(str('/bin/sh'))]))]), 'NUL'],
    ['empty n-ng', Buffer.concat([head('ima-ng'), lp(Buffer.concat([dng, u32(0)]))]), 'NUL'],
    ['sha256 digest of 31 bytes', Buffer.concat([head('ima-ng'), lp(Buffer.concat([lp(Buffer.concat([str('sha256:\0'), Buffer.alloc(31)])), nng]))]), 'expected 32'],
    ['bare digest of 7 bytes', Buffer.concat([head('ima-ng'), lp(Buffer.concat([lp(Buffer.alloc(7)), nng]))]), 'not a sha1 or md5'],
    ['non-printable algorithm', Buffer.concat([head('ima-ng'), lp(Buffer.concat([lp(Buffer.concat([str('\u0001\u0002:\0'), Buffer.alloc(32)])), nng]))]), 'not printable'],
    ['trailing bytes in ima-ng data', Buffer.concat([head('ima-ng'), lp(Buffer.concat([ngData, Buffer.alloc(3)]))]), 'trailing'],
    ['ima-sig without sig field', Buffer.concat([head('ima-sig'), lp(ngData)]), 'sig.length'],
    ['ima-buf with huge buf length', Buffer.concat([head('ima-buf'), lp(Buffer.concat([ngData, u32(0x7fffffff)]))]), 'buf'],
    ['ima name over 255 bytes', Buffer.concat([head('ima'), imaDigest, u32(256), Buffer.alloc(256, 0x61)]), 'ima.name.length'],
  ])('rejects %s with a ParseError naming it', (_t, bytes, detail) => {
    let err: unknown;
    try {
      parseImaBinaryLog(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).structure).toBe('ima.binary_log entry 0');
    expect((err as ParseError).message).toContain(detail);
    expect((err as ParseError).offset).toBeGreaterThanOrEqual(0);
    expect((err as ParseError).offset).toBeLessThanOrEqual(bytes.length);
  });

  it('names the failing entry and its absolute offset', () => {
    const good = withData('ima-ng', ngData);
    const bad = Buffer.concat([good, good, u32(10), Buffer.alloc(20), u32(300)]);
    expect(() => parseImaBinaryLog(bad, { firstIndex: 40 })).toThrow(
      expect.objectContaining({ structure: 'ima.binary_log entry 42', offset: 2 * good.length + 24 }),
    );
  });

  describe.each([
    ['ima-ng', withData('ima-ng', ngData)],
    ['ima-sig', withData('ima-sig', sigData)],
    ['ima-buf', withData('ima-buf', bufData)],
    ['ima', imaEntry],
  ])('a %s entry truncated at every offset', (_t, entry) => {
    it('is a ParseError at every cut, and the whole entry parses', () => {
      for (let cut = 1; cut < entry.length; cut++) {
        expect(() => parseImaBinaryLog(entry.subarray(0, cut))).toThrow(ParseError);
      }
      expect(parseImaBinaryLog(entry)).toHaveLength(1);
    });
  });
});
