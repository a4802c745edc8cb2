import { readFileSync } from 'node:fs';
import { ParseError } from '../binary/parse-error.js';
import { verifyBootPolicy } from './boot-policy.js';
import { encodeEventLog } from '../testing/encode-event-log.js';
import { efiBootApplicationEvent, grubCommandEvent, grubKernelCmdlineEvent, secureBootEvent, separatorEvent, systemdCmdlineEvent } from '../testing/event-builders.js';
import { EV, EVENT_TAG } from './event-types.js';
import { parseEventLog } from './parse-event-log.js';
import { replayEventLog } from './replay-event-log.js';
import { assumeVerified } from '../testing/index.js';
import { verifyEventLogAgainstPcrs } from './verify-event-log.js';
import { seededRandom as prng } from '../testing/seeded-random.js';


const dir = new URL('../../../../shared/fixtures/eventlogs/', import.meta.url);
const fixtures = ['ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin', 'kl_binary_bios_measurements-secureboot.bin'].map((f) => new Uint8Array(readFileSync(new URL(f, dir))));
const te = new TextEncoder();
const tagHead = Buffer.alloc(8);
tagHead.writeUInt32LE(EVENT_TAG.LOAD_OPTIONS, 0);
tagHead.writeUInt32LE(6, 4);
const tagged = Buffer.concat([tagHead, Buffer.from('ro\0', 'utf16le')]);
const encoded = [
  encodeEventLog({ banks: ['sha256'], events: [secureBootEvent(true), separatorEvent(7), grubKernelCmdlineEvent('/vmlinuz ro')] }),
  encodeEventLog({
    banks: ['sha1', 'sha256', 'sha384'],
    startupLocality: 3,
    events: [
      { pcr: 0, type: EV.S_CRTM_VERSION, data: te.encode('v1') },
      secureBootEvent(false),
      efiBootApplicationEvent(te.encode('image'), '\\EFI\\x.efi'),
      grubCommandEvent('linux /vmlinuz roothash=00'),
      systemdCmdlineEvent('usrhash=11'),
      { pcr: 9, type: EV.EVENT_TAG, data: tagged },
      { pcr: 0, type: EV.NO_ACTION, data: te.encode('x') },
    ],
  }),
];
// A legacy SHA-1 log of two events: a PCR 4 separator and a PCR 7 EV_ACTION "abc".
const legacy = Buffer.from(['04000000', '04000000', '00'.repeat(20), '04000000', '00000000', '07000000', '05000000', '11'.repeat(20), '03000000', '616263'].join(''), 'hex');
const seeds = [...fixtures, ...encoded, new Uint8Array(legacy)];
const boundary = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 3, 24, 0x0b, 0x12, 0x20];

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(rnd() * n);
  let b = new Uint8Array(src);
  const rounds = 1 + pick(4);
  for (let i = 0; i < rounds && b.length > 0; i++) {
    const at = pick(b.length);
    switch (pick(6)) {
      case 0: b[at] = pick(256); break;
      case 1: b[at]! ^= 1 << pick(8); break;
      case 2: if (b.length >= 4) new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(Math.min(at, b.length - 4), boundary[pick(boundary.length)]!, true); break;
      case 3: b = b.subarray(0, at); break;
      case 4: b = new Uint8Array(Buffer.concat([b.subarray(0, at), b.subarray(at, at + pick(64)), b.subarray(at)])); break;
      default: b = new Uint8Array(Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(16))]));
    }
  }
  return b;
}

function exercise(bytes: Uint8Array): 'parsed' | 'rejected' {
  try {
    const log = parseEventLog(bytes);
    const replayed = replayEventLog(log);
    const verdict = verifyEventLogAgainstPcrs(log, assumeVerified(replayed));
    if (verdict.ok) verifyBootPolicy(verdict.log, { secureBootRequired: true, requiredKernelCmdline: ['ro'], allowedBootDigests: { bank: 'sha256', digests: [] } });
    return 'parsed';
  } catch (e) {
    if (e instanceof ParseError) return 'rejected';
    throw new Error(`non-ParseError escaped for input ${Buffer.from(bytes.subarray(0, 64)).toString('hex')}…: ${String(e)}`);
  }
}

const N = 100_000;

describe('parseEventLog fuzz', () => {
  it(`${N} mutated logs (real fixtures and encoded logs): only ParseError escapes, parsed logs verify without throwing`, () => {
    const rnd = prng(0x5eed1234);
    const counts = { parsed: 0, rejected: 0 };
    for (let i = 0; i < N; i++) {
      // One input in 25 starts from a (40 KB) real fixture, the rest from small encoded and legacy logs.
      const src = i % 25 === 0 ? fixtures[(i / 25) % 2]! : seeds[2 + (i % 3)]!;
      counts[exercise(mutate(src, rnd))]++;
    }
    expect(counts.parsed + counts.rejected).toBe(N);
    expect(counts.parsed).toBeGreaterThan(1000);
    expect(counts.rejected).toBeGreaterThan(1000);
  }, 300_000);

  it('random bytes are rejected with ParseError or parsed, never anything else', () => {
    const rnd = prng(42);
    let rejected = 0;
    for (let i = 0; i < 5000; i++) {
      const b = new Uint8Array(Math.floor(rnd() * 200));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      if (exercise(b) === 'rejected') rejected++;
    }
    expect(rejected).toBeGreaterThan(4000);
  });
});
