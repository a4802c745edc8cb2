import { createHash } from 'node:crypto';
import { ParseError } from '../binary/parse-error.js';
import { EV } from './event-types.js';
import { parseEventLog } from './parse-event-log.js';
import { replayEventLog } from './replay-event-log.js';

/** Hex pieces (spaces allowed) to bytes. */
const hx = (...parts: string[]): Uint8Array => new Uint8Array(Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex'));
const sha = (alg: string, h: string): string => createHash(alg).update(Buffer.from(h, 'hex')).digest('hex');
const ZERO20 = '00'.repeat(20);
const ZERO32 = '00'.repeat(32);

/** Spec ID header declaring sha256 only (a legacy-format TCG_PCR_EVENT). */
const SPEC_ID_SHA256 = [
  '00000000', // pcrIndex 0
  '03000000', // eventType EV_NO_ACTION
  ZERO20, // digest[20], zero
  '21000000', // eventSize 33
  '53706563204944204576656e74303300', // signature "Spec ID Event03\0"
  '00000000', // platformClass 0 (client)
  '00 02 00', // specVersionMinor 0, specVersionMajor 2, specErrata 0
  '02', // uintnSize 2 (UINT64)
  '01000000', // numberOfAlgorithms 1
  '0b00 2000', // TPM_ALG_SHA256, digestSize 32
  '00', // vendorInfoSize 0
].join('');

/** An agile EV_SEPARATOR in PCR 7 with its sha256 digest. */
const AGILE_SEPARATOR_PCR7 = [
  '07000000', // pcrIndex 7
  '04000000', // eventType EV_SEPARATOR
  '01000000', // TPML_DIGEST_VALUES.count 1
  '0b00', // hashAlg TPM_ALG_SHA256
  sha('sha256', '00000000'), // digest: sha256(00000000)
  '04000000', // eventSize 4
  '00000000', // event: separator value 0
].join('');

describe('parseEventLog: well-formed byte tables', () => {
  it.each([
    {
      name: 'legacy SHA-1 separator',
      bytes: hx(
        '04000000', // pcrIndex 4
        '04000000', // eventType EV_SEPARATOR
        sha('sha1', '00000000'), // digest[20]: sha1(00000000)
        '04000000', // eventSize 4
        '00000000', // event
      ),
      format: 'legacy-sha1',
      events: [{ pcr: 4, type: EV.SEPARATOR, kind: 'separator' }],
      pcrs: { sha1: { '4': sha('sha1', '00'.repeat(20) + sha('sha1', '00000000')) } },
    },
    {
      name: 'Spec ID header alone',
      bytes: hx(SPEC_ID_SHA256),
      format: 'crypto-agile',
      events: [{ pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' }],
      pcrs: { sha256: {} },
    },
    {
      name: 'Spec ID header then an agile separator',
      bytes: hx(SPEC_ID_SHA256, AGILE_SEPARATOR_PCR7),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 7, type: EV.SEPARATOR, kind: 'separator' },
      ],
      pcrs: { sha256: { '7': sha('sha256', ZERO32 + sha('sha256', '00000000')) } },
    },
    {
      name: 'short EV_NO_ACTION (2 bytes of data) parses and is never extended',
      bytes: hx(
        SPEC_ID_SHA256,
        '00000000', // pcrIndex 0
        '03000000', // eventType EV_NO_ACTION
        '01000000', // count 1
        '0b00', // TPM_ALG_SHA256
        'ff'.repeat(32), // a non-zero digest: still not extended
        '02000000', // eventSize 2: too short for any known EV_NO_ACTION structure
        'abcd', // event
      ),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 0, type: EV.NO_ACTION, kind: 'none' },
      ],
      pcrs: { sha256: {} },
    },
    {
      name: 'EV_NO_ACTION with no digests and no data',
      bytes: hx(SPEC_ID_SHA256, '00000000', '03000000', '00000000', '00000000'),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 0, type: EV.NO_ACTION, kind: 'none' },
      ],
      pcrs: { sha256: {} },
    },
    {
      name: 'StartupLocality 3 sets the initial PCR 0',
      bytes: hx(
        SPEC_ID_SHA256,
        '00000000', // pcrIndex 0
        '03000000', // EV_NO_ACTION
        '01000000', '0b00', ZERO32, // one zero sha256 digest
        '11000000', // eventSize 17
        '537461727475704c6f63616c69747900', // "StartupLocality\0"
        '03', // locality 3
        '00000000', '08000000', '01000000', '0b00', sha('sha256', 'aa'), '01000000', 'aa', // PCR 0 EV_S_CRTM_VERSION "aa"
      ),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 0, type: EV.NO_ACTION, kind: 'startup-locality' },
        { pcr: 0, type: EV.S_CRTM_VERSION, kind: 'none' },
      ],
      pcrs: { sha256: { '0': sha('sha256', '00'.repeat(31) + '03' + sha('sha256', 'aa')) } },
    },
    {
      name: 'StartupLocality cut short (16 bytes) is an opaque EV_NO_ACTION',
      bytes: hx(SPEC_ID_SHA256, '00000000', '03000000', '00000000', '10000000', '537461727475704c6f63616c69747900'),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 0, type: EV.NO_ACTION, kind: 'none' },
      ],
      pcrs: { sha256: {} },
    },
    {
      name: 'EV_NO_ACTION in PCR 0xFFFFFFFF (as Windows logs them) parses and is never extended',
      bytes: hx(
        SPEC_ID_SHA256,
        'ffffffff', // pcrIndex 0xFFFFFFFF: no PCR, only a label
        '03000000', // EV_NO_ACTION
        '01000000', '0b00', 'ff'.repeat(32), // a digest: still not extended
        '02000000', 'abcd', // eventSize 2, event
        AGILE_SEPARATOR_PCR7,
      ),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 0xffffffff, type: EV.NO_ACTION, kind: 'none' },
        { pcr: 7, type: EV.SEPARATOR, kind: 'separator' },
      ],
      pcrs: { sha256: { '7': sha('sha256', ZERO32 + sha('sha256', '00000000')) } },
    },
    {
      name: 'H-CRTM: StartupLocality 4, then EV_EFI_HCRTM_EVENT extends PCR 0 from locality 4',
      bytes: hx(
        SPEC_ID_SHA256,
        '00000000', '03000000', '00000000', // PCR 0 EV_NO_ACTION, no digests
        '11000000', '537461727475704c6f63616c69747900', '04', // "StartupLocality\0", locality 4 (H-CRTM)
        '00000000', '10000080', // PCR 0 EV_EFI_HCRTM_EVENT
        '01000000', '0b00', sha('sha256', '4843'), // digest of the H-CRTM data
        '06000000', '4843 52544d 00'.replace(/ /g, ''), // "HCRTM\0"
      ),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 0, type: EV.NO_ACTION, kind: 'startup-locality' },
        { pcr: 0, type: EV.EFI_HCRTM_EVENT, kind: 'text' },
      ],
      pcrs: { sha256: { '0': sha('sha256', '00'.repeat(31) + '04' + sha('sha256', '4843')) } },
    },
    {
      name: 'a separator with the error value 1 (PFP: a pre-OS error) is extended with its own digest',
      bytes: hx(
        SPEC_ID_SHA256,
        '07000000', '04000000', // PCR 7 EV_SEPARATOR
        '01000000', '0b00', sha('sha256', '01000000'), // digest of the error value
        '04000000', '01000000', // eventSize 4, value 0x00000001
      ),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 7, type: EV.SEPARATOR, kind: 'separator' },
      ],
      pcrs: { sha256: { '7': sha('sha256', ZERO32 + sha('sha256', '01000000')) } },
    },
    {
      name: 'an algorithm the Spec ID declares but we do not replay (SM3_256) is carried, not replayed',
      bytes: hx(
        '00000000', '03000000', ZERO20, '25000000', // Spec ID header, eventSize 37
        '53706563204944204576656e74303300', '00000000', '00020002',
        '02000000', // two algorithms
        '0b00 2000', // sha256, 32
        '1200 2000', // SM3_256, 32
        '00', // no vendor info
        '07000000', '04000000', '02000000', // PCR 7 separator, two digests
        '1200', 'ab'.repeat(32), // SM3 digest (arbitrary)
        '0b00', sha('sha256', '00000000'),
        '04000000', '00000000',
      ),
      format: 'crypto-agile',
      events: [
        { pcr: 0, type: EV.NO_ACTION, kind: 'spec-id' },
        { pcr: 7, type: EV.SEPARATOR, kind: 'separator' },
      ],
      pcrs: { sha256: { '7': sha('sha256', ZERO32 + sha('sha256', '00000000')) } },
    },
  ])('$name', ({ bytes, format, events, pcrs }) => {
    const log = parseEventLog(bytes);
    expect(log.format).toBe(format);
    expect(log.events.map((e) => ({ pcr: e.pcr, type: e.type, kind: e.decoded.kind }))).toEqual(events);
    expect(replayEventLog(log)).toEqual(pcrs);
  });

  it('decodes the Spec ID fields', () => {
    const log = parseEventLog(hx(SPEC_ID_SHA256));
    expect(log.specId).toEqual({ platformClass: 0, specVersion: { major: 2, minor: 0, errata: 0 }, uintnSize: 2, algorithms: [{ algId: 0x0b, digestSize: 32, alg: 'sha256' }], vendorInfo: new Uint8Array(0) });
    expect(log.banks).toEqual(['sha256']);
  });

  it('copies the input: later changes to the caller buffer do not alter the parsed log', () => {
    const bytes = hx(SPEC_ID_SHA256, AGILE_SEPARATOR_PCR7);
    const log = parseEventLog(bytes);
    bytes.fill(0xee);
    expect(Buffer.from(log.events[1]!.data).toString('hex')).toBe('00000000');
  });
});

describe('parseEventLog: hostile input throws ParseError naming structure and offset', () => {
  it.each([
    { name: 'empty', bytes: hx(''), structure: 'event log', offset: 0 },
    { name: 'legacy eventSize 0xffffffff', bytes: hx('04000000', '04000000', ZERO20, 'ffffffff'), structure: 'TCG_PCR_EVENT', offset: 28 },
    { name: 'legacy eventSize larger than the log', bytes: hx('04000000', '04000000', ZERO20, '00010000', '00'), structure: 'TCG_PCR_EVENT', offset: 32 },
    { name: 'pcrIndex 24', bytes: hx('18000000', '04000000', ZERO20, '00000000'), structure: 'TCG_PCR_EVENT', offset: 0 },
    { name: 'a measured event (EV_SEPARATOR) in PCR 0xFFFFFFFF', bytes: hx('ffffffff', '04000000', ZERO20, '00000000'), structure: 'TCG_PCR_EVENT', offset: 0 },
    { name: 'an agile measured event in PCR 0xFFFFFFFF', bytes: hx(SPEC_ID_SHA256, 'ffffffff', '04000000', '01000000', '0b00', ZERO32, '00000000'), structure: 'TCG_PCR_EVENT2', offset: 65 },
    {
      name: 'Spec ID numberOfAlgorithms 0xffffffff',
      bytes: hx('00000000', '03000000', ZERO20, '1d000000', '53706563204944204576656e74303300', '00000000', '00020002', 'ffffffff', '00'),
      structure: 'TCG_EfiSpecIDEvent',
      offset: 56,
    },
    {
      name: 'Spec ID declares sha256 with 31-byte digests',
      bytes: hx('00000000', '03000000', ZERO20, '21000000', '53706563204944204576656e74303300', '00000000', '00020002', '01000000', '0b00 1f00', '00'),
      structure: 'TCG_EfiSpecIDEvent',
      offset: 60,
    },
    {
      name: 'Spec ID lists sha256 twice',
      bytes: hx('00000000', '03000000', ZERO20, '25000000', '53706563204944204576656e74303300', '00000000', '00020002', '02000000', '0b00 2000', '0b00 2000', '00'),
      structure: 'TCG_EfiSpecIDEvent',
      offset: 64,
    },
    {
      name: 'Spec ID with trailing bytes',
      bytes: hx('00000000', '03000000', ZERO20, '22000000', '53706563204944204576656e74303300', '00000000', '00020002', '01000000', '0b00 2000', '00', 'ff'),
      structure: 'TCG_EfiSpecIDEvent',
      offset: 65,
    },
    {
      name: 'Spec ID in PCR 5',
      bytes: hx('05000000', SPEC_ID_SHA256.slice(8)),
      structure: 'TCG_EfiSpecIDEvent',
      offset: 0,
    },
    { name: 'agile digests.count 0xffffffff', bytes: hx(SPEC_ID_SHA256, '07000000', '04000000', 'ffffffff'), structure: 'TCG_PCR_EVENT2', offset: 65 + 8 },
    { name: 'agile digest of an undeclared algorithm (sha1)', bytes: hx(SPEC_ID_SHA256, '07000000', '04000000', '01000000', '0400', ZERO20, '00000000'), structure: 'TCG_PCR_EVENT2', offset: 65 + 12 },
    { name: 'agile digest of an unknown algorithm 0x0099', bytes: hx(SPEC_ID_SHA256, '07000000', '04000000', '01000000', '9900', ZERO32, '00000000'), structure: 'TCG_PCR_EVENT2', offset: 65 + 12 },
    { name: 'agile measured event without its sha256 digest', bytes: hx(SPEC_ID_SHA256, '07000000', '04000000', '00000000', '00000000'), structure: 'TCG_PCR_EVENT2', offset: 65 + 8 },
    { name: 'agile eventSize 0x7fffffff', bytes: hx(SPEC_ID_SHA256, '07000000', '04000000', '01000000', '0b00', ZERO32, 'ffffff7f'), structure: 'TCG_PCR_EVENT2', offset: 65 + 46 },
    { name: 'agile event cut inside its digest', bytes: hx(SPEC_ID_SHA256, '07000000', '04000000', '01000000', '0b00', '00'.repeat(10)), structure: 'TCG_PCR_EVENT2', offset: 65 + 14 },
  ])('$name', ({ bytes, structure, offset }) => {
    let caught: unknown;
    try {
      parseEventLog(bytes);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ParseError);
    expect(caught).toMatchObject({ structure, offset });
  });

  it('truncation at every offset of a small log: ParseError, or a shorter log cut exactly at an event boundary', () => {
    const full = hx(SPEC_ID_SHA256, AGILE_SEPARATOR_PCR7, AGILE_SEPARATOR_PCR7.replace(/^07/, '04'));
    const whole = parseEventLog(full);
    expect(whole.events).toHaveLength(3);
    const boundaries = new Map(whole.events.map((e, i) => [e.offset, i]));
    let errors = 0;
    for (let cut = 0; cut < full.length; cut++) {
      const prefix = full.subarray(0, cut);
      if (boundaries.has(cut) && cut > 0) {
        expect(parseEventLog(prefix).events).toHaveLength(boundaries.get(cut)!);
      } else {
        expect(() => parseEventLog(prefix)).toThrow(ParseError);
        errors++;
      }
    }
    expect(errors).toBe(full.length - 2);
  });
});
