import { createHash } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { encodeImaBufEntry, encodeImaNgEntry, encodeImaSigEntry, encodeImaTemplateEntry } from './encode-ima-entry.js';
import { parseImaAsciiLog } from './parse-ima-ascii.js';
import { parseImaBinaryLog } from './parse-ima-binary.js';
import { detectImaLogFormat, parseImaLog } from './parse-ima-log.js';

const sha1hex = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'utf8');

// Two real lines from keylime/keylime test/data/create-runtime-policy/ima-log-sha256 (Apache-2.0).
const KEYLIME_LOG = [
  '10 6309e2c83b7814367bb3912a55e5473454623535 ima-ng sha256:f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3 boot_aggregate',
  '10 80255d9c7dad91ef5f21b18560a47642d6f4d653 ima-ng sha256:96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 /data',
  '',
].join('\n');

describe('parseImaAsciiLog', () => {
  it('rebuilds template data whose sha1 is the logged template hash (real kernel lines)', () => {
    const entries = parseImaAsciiLog(ascii(KEYLIME_LOG));
    expect(entries.map((e) => [e.index, e.name, e.digestAlg])).toEqual([[0, 'boot_aggregate', 'sha256'], [1, '/data', 'sha256']]);
    for (const e of entries) expect(sha1hex(e.hashInput)).toBe(e.templateHash.toString('hex'));
    expect(entries[1]!.offset).toBe(KEYLIME_LOG.indexOf('\n') + 1);
  });

  const digest = Buffer.alloc(32, 0x5a);
  it.each([
    ['ima-ng', encodeImaNgEntry({ path: '/usr/bin/env', fileDigest: digest }), `ima-ng sha256:${digest.toString('hex')} /usr/bin/env`],
    ['ima-sig with a signature', encodeImaSigEntry({ path: '/bin/ls', fileDigest: digest, sig: Buffer.from('0302', 'hex') }),
      `ima-sig sha256:${digest.toString('hex')} /bin/ls 0302`],
    // The kernel writes a space before every field, even the empty signature.
    ['ima-sig without a signature', encodeImaSigEntry({ path: '/bin/ls', fileDigest: digest, sig: Buffer.alloc(0) }),
      `ima-sig sha256:${digest.toString('hex')} /bin/ls `],
    ['ima-buf', encodeImaBufEntry({ name: 'kexec-cmdline', buf: ascii('root=/dev/sda') }),
      `ima-buf sha256:${createHash('sha256').update('root=/dev/sda').digest('hex')} kexec-cmdline ${ascii('root=/dev/sda').toString('hex')}`],
    ['ima', encodeImaTemplateEntry({ path: '/init', sha1Digest: Buffer.alloc(20, 7) }), `ima ${'07'.repeat(20)} /init`],
  ])('reads %s exactly as the binary form', (_t, encoded, rest) => {
    const line = `10 ${encoded.templateHash.toString('hex')} ${rest}\n`;
    const [a] = parseImaAsciiLog(ascii(line));
    const [b] = parseImaBinaryLog(encoded.bytes);
    expect(a!.hashInput).toEqual(b!.hashInput);
    expect([a!.name, a!.digestAlg, a!.digest, a!.sig, a!.buf]).toEqual([b!.name, b!.digestAlg, b!.digest, b!.sig, b!.buf]);
    expect(detectImaLogFormat(ascii(line))).toBe('ascii');
    expect(detectImaLogFormat(encoded.bytes)).toBe('binary');
    expect(parseImaLog(ascii(line))[0]!.hashInput).toEqual(b!.hashInput);
  });

  it('keeps spaces of an old kernel inside an ima-ng path', () => {
    const [e] = parseImaAsciiLog(ascii(`10 ${'00'.repeat(20)} ima-ng sha1:${'11'.repeat(20)} /my file`));
    expect(e!.name).toBe('/my file');
  });

  const h = '00'.repeat(20);
  const d = `sha256:${'ab'.repeat(32)}`;
  it.each([
    ['a line with only a pcr', '10'],
    ['a non-numeric pcr', `x ${h} ima-ng ${d} /a`],
    ['pcr 24', `24 ${h} ima-ng ${d} /a`],
    ['a short template hash', `10 ${'00'.repeat(19)} ima-ng ${d} /a`],
    ['a non-hex template hash', `10 ${'zz'.repeat(20)} ima-ng ${d} /a`],
    ['a missing path', `10 ${h} ima-ng ${d}`],
    ['a non-hex digest', `10 ${h} ima-ng sha256:${'g'.repeat(64)} /a`],
    ['an odd-length digest', `10 ${h} ima-ng sha256:${'a'.repeat(63)} /a`],
    ['a digest too short for its algorithm', `10 ${h} ima-ng sha256:${'ab'.repeat(20)} /a`],
    ['a bare digest of 7 bytes', `10 ${h} ima-ng ${'ab'.repeat(7)} /a`],
    ['an ima-sig without the sig delimiter', `10 ${h} ima-sig ${d} /a`],
    ['a non-hex ima-buf buffer', `10 ${h} ima-buf ${d} name xyz`],
    ['an ima digest that is not sha1', `10 ${h} ima ${'ab'.repeat(32)} /a`],
    ['an unknown template', `10 ${h} ima-modsig ${d} /a`],
  ])('rejects %s with a ParseError', (_t, line) => {
    expect(() => parseImaAsciiLog(ascii(`${line}\n`), { firstIndex: 3 })).toThrow(
      expect.objectContaining({ name: 'ParseError', structure: 'ima.ascii_log entry 3', offset: 0 }),
    );
  });

  it('is a ParseError at every truncation that leaves a malformed line', () => {
    const line = KEYLIME_LOG.split('\n')[1]!;
    const lastSpace = line.lastIndexOf(' ');
    for (let cut = 1; cut < line.length; cut++) {
      const run = (): unknown => parseImaAsciiLog(ascii(line.slice(0, cut)));
      if (cut > lastSpace) expect(run).not.toThrow(); // only the path is shorter: well-formed, wrong hash
      else expect(run).toThrow(ParseError);
    }
  });
});
