import { createHash } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { encodeImaBufEntry, encodeImaNgEntry, encodeImaSigEntry, encodeImaTemplateEntry } from '../testing/encode-ima-entry.js';
import type { ImaEntry } from './ima-entry.js';
import { createRuntimePolicy } from './create-runtime-policy.js';
import { IMA_INITIAL_STATE } from './ima-state.js';
import { parseImaAsciiLog, scanImaAsciiLog } from './parse-ima-ascii.js';
import { parseImaBinaryLog } from './parse-ima-binary.js';
import { detectImaLogFormat, parseImaLog } from './parse-ima-log.js';
import { digestNgField, lengthPrefixed } from './template-fields.js';
import { verifyImaEntries, verifyImaLog } from './verify-ima-entries.js';

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

/** Everything an entry carries, copied out (a reused view is refilled by the next line). */
const snapshot = (e: ImaEntry): unknown[] =>
  [e.index, e.offset, e.pcr, e.template, e.name, e.digestAlg, e.digest.toString('hex'), e.hashInput.toString('hex'),
    e.templateHash.toString('hex'), e.sig?.toString('hex'), e.buf?.toString('hex')];

/** ASCII lines for encoded entries; `rest` is what follows the template name. */
const asciiLine = (e: { templateHash: Buffer }, template: string, rest: string): string => `10 ${e.templateHash.toString('hex')} ${template} ${rest}`;

describe('scanImaAsciiLog', () => {
  const fd = (s: string): Buffer => createHash('sha256').update(s).digest();
  const big = Buffer.alloc(3000, 0xa5); // rebuilt data larger than the initial scratch buffer
  const encoded = [
    encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: fd('boot') }),
    encodeImaSigEntry({ path: '/bin/ls', fileDigest: fd('ls'), sig: Buffer.alloc(0) }),
    encodeImaBufEntry({ name: '.ima', buf: big }),
    encodeImaTemplateEntry({ path: '/init', sha1Digest: Buffer.alloc(20, 7) }),
    encodeImaNgEntry({ path: '/usr/bin/env', fileDigest: fd('env') }),
  ];
  const lines = [
    asciiLine(encoded[0]!, 'ima-ng', `sha256:${fd('boot').toString('hex')} boot_aggregate`),
    asciiLine(encoded[1]!, 'ima-sig', `sha256:${fd('ls').toString('hex')} /bin/ls `),
    asciiLine(encoded[2]!, 'ima-buf', `sha256:${createHash('sha256').update(big).digest('hex')} .ima ${big.toString('hex')}`),
    asciiLine(encoded[3]!, 'ima', `${'07'.repeat(20)} /init`),
    asciiLine(encoded[4]!, 'ima-ng', `sha256:${fd('env').toString('hex')} /usr/bin/env`),
  ];
  const text = ascii(`${lines.join('\n')}\n`);
  const offsetOf = (i: number): number => lines.slice(0, i).reduce((n, l) => n + l.length + 1, 0);

  function scan(input: Buffer, opts: { firstIndex?: number } = {}, stopAfter = Infinity): { seen: unknown[][]; views: Set<ImaEntry> } {
    const seen: unknown[][] = [];
    const views = new Set<ImaEntry>();
    scanImaAsciiLog(input, opts, (e) => {
      seen.push(snapshot(e));
      views.add(e);
      return seen.length < stopAfter;
    }, true);
    return { seen, views };
  }

  it('streams through one refilled view the same entries parseImaAsciiLog returns, as the binary list has them', () => {
    const { seen, views } = scan(text, { firstIndex: 4 });
    const parsed = parseImaAsciiLog(text, { firstIndex: 4 });
    expect(seen).toEqual(parsed.map(snapshot));
    // A new view only when the scratch buffer grew (for the ima-buf line).
    expect(views.size).toBeLessThanOrEqual(2);
    // Retained entries own their bytes, and each rebuilds exactly the binary template data.
    const binary = parseImaBinaryLog(Buffer.concat(encoded.map((e) => e.bytes)));
    expect(parsed.map((e) => e.hashInput)).toEqual(binary.map((e) => e.hashInput));
    expect(parsed.map((e) => e.offset)).toEqual(lines.map((_l, i) => offsetOf(i)));
  });

  it('stops when the visitor returns false, without reading further lines', () => {
    const broken = ascii(`${lines.slice(0, 2).join('\n')}\nnot an entry\n`);
    expect(scan(broken, {}, 2).seen.map((e) => e[0])).toEqual([0, 1]);
  });

  it('reports a malformed line in the middle by its index and offset, after visiting the entries before it', () => {
    const broken = ascii([lines[0], lines[1], `10 ${'00'.repeat(20)} ima-ng sha256:${'zz'.repeat(32)} /a`, lines[4], ''].join('\n'));
    const seen: number[] = [];
    const run = (): void => scanImaAsciiLog(broken, { firstIndex: 7 }, (e) => seen.push(e.index) > 0, true);
    expect(run).toThrow(expect.objectContaining({ name: 'ParseError', structure: 'ima.ascii_log entry 9', offset: offsetOf(2) }));
    expect(seen).toEqual([7, 8]);
  });

  it('rebuilds a name that is not UTF-8 from its raw bytes, as the kernel hashed it', () => {
    const name = Buffer.from([0x2f, 0x78, 0xff, 0xc3]); // "/x" and two bytes that are not UTF-8
    const data = Buffer.concat([digestNgField('sha256', fd('x')), lengthPrefixed(Buffer.concat([name, Buffer.from([0])]))]);
    const line = Buffer.concat([ascii(`10 ${sha1hex(data)} ima-ng sha256:${fd('x').toString('hex')} `), name]);
    const [e] = parseImaAsciiLog(line);
    expect(e!.hashInput).toEqual(data);
    expect(e!.name).toBe(name.toString('utf8'));
  });

  it('is what verifyImaEntries streams: the same verdict and state as the binary list', () => {
    const binary = Buffer.concat(encoded.map((e) => e.bytes));
    const policy = createRuntimePolicy(parseImaBinaryLog(binary));
    const viaBinary = verifyImaLog(binary, policy);
    expect(verifyImaLog(text, policy)).toEqual(viaBinary);
    const first = verifyImaEntries(IMA_INITIAL_STATE, ascii(lines.slice(0, 2).join('\n')), policy);
    expect(verifyImaEntries(first.state, ascii(lines.slice(2).join('\n')), policy)).toEqual(viaBinary);
  });

  it('stops reading at the entry after the prefix that matches the quote, as for the binary list', () => {
    const binary = Buffer.concat(encoded.map((e) => e.bytes));
    const policy = createRuntimePolicy(parseImaBinaryLog(binary));
    const quoted = verifyImaLog(binary, policy, { banks: ['sha1'] }).state.pcr10.sha1!;
    // The log runs ahead of the quote: one more entry, then a line being written.
    const torn = Buffer.concat([text, ascii(`${lines[4]}\n10 0123`)]);
    const r = verifyImaLog(torn, policy, { quotedPcr10: { bank: 'sha1', value: quoted } });
    expect(r.failures).toEqual([]);
    expect(r.state.count).toBe(encoded.length);
  });
});
