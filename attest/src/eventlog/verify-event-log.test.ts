import { readFileSync } from 'node:fs';
import { parseEventLog } from './parse-event-log.js';
import { replayEventLog } from './replay-event-log.js';
import { assumeVerified } from '../testing/index.js';
import { verifyEventLogAgainstPcrs } from './verify-event-log.js';
import type { PcrValues } from '../pcr.js';
import type { Hex } from '../wire.js';

const dir = new URL('../../../../shared/fixtures/eventlogs/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<string, { pcrs: Record<string, Record<string, string>> }>;
const fixtures = Object.entries(expected).map(([file, e]) => ({ file, pcrs: e.pcrs }));
const load = (file: string): Uint8Array => readFileSync(new URL(file, dir));

describe('real event logs', () => {
  it('expected.json lists both fixtures', () => {
    expect(fixtures.map((f) => f.file).sort()).toEqual(['ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin', 'kl_binary_bios_measurements-secureboot.bin']);
  });

  it.each(fixtures)('$file replays to expected.json in every listed bank', ({ file, pcrs }) => {
    const replayed = replayEventLog(parseEventLog(load(file)));
    for (const [bank, values] of Object.entries(pcrs)) expect(replayed[bank as keyof typeof replayed]).toEqual(values);
  });

  it.each(fixtures)('$file verifies against its own PCRs as a quote', ({ file, pcrs }) => {
    const verdict = verifyEventLogAgainstPcrs(parseEventLog(load(file)), assumeVerified(pcrs));
    expect(verdict.failures).toEqual([]);
    expect(verdict.ok).toBe(true);
  });

  it('lists every mismatching PCR of every bank (ReplayError style)', () => {
    const { pcrs } = expected['ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin']!;
    const quoted = structuredClone<Record<string, Record<string, string>>>(pcrs);
    quoted.sha1!['4'] = '00'.repeat(20);
    quoted.sha256!['7'] = 'ff'.repeat(32);
    quoted.sha256!['10'] = '11'.repeat(32); // PCR 10 not in the log: expected to be zero
    const verdict = verifyEventLogAgainstPcrs(parseEventLog(load('ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin')), assumeVerified(quoted));
    expect(verdict.ok).toBe(false);
    expect(verdict.failures.map((f) => [f.id, f.context?.bank, f.context?.pcr])).toEqual([
      ['bootlog.pcr_mismatch', 'sha1', 4],
      ['bootlog.pcr_mismatch', 'sha256', 7],
      ['bootlog.pcr_mismatch', 'sha256', 10],
    ]);
  });

  it('an unextended quoted PCR verifies when it is zero', () => {
    const file = 'kl_binary_bios_measurements-secureboot.bin';
    const verdict = verifyEventLogAgainstPcrs(parseEventLog(load(file)), assumeVerified({ sha256: { ...expected[file]!.pcrs.sha256, '10': '00'.repeat(32) } }));
    expect(verdict.ok).toBe(true);
  });

  it('trusts only events of quoted PCRs and only the quoted banks', () => {
    const file = 'ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin';
    const sha256 = expected[file]!.pcrs.sha256!;
    const verdict = verifyEventLogAgainstPcrs(parseEventLog(load(file)), assumeVerified({ sha256: { '7': sha256['7']!, '8': sha256['8']! } }));
    if (!verdict.ok) throw new Error(JSON.stringify(verdict.failures));
    expect(verdict.log.banks).toEqual(['sha256']);
    expect(new Set(verdict.log.events.map((e) => e.pcr))).toEqual(new Set([7, 8]));
    expect(verdict.log.pcrs).toEqual({ sha256: { '7': sha256['7'], '8': sha256['8'] } });
  });

  it.each([
    { name: 'no common bank', quoted: { sha1: { '0': '00'.repeat(20) } }, id: 'bootlog.no_common_bank' },
    { name: 'empty quote', quoted: {}, id: 'bootlog.no_common_bank' },
    { name: 'wrong-length value', quoted: { sha256: { '0': '0d99' } }, id: 'bootlog.pcr_mismatch' },
    { name: 'not hex', quoted: { sha256: { '0': 'zz'.repeat(32) } }, id: 'bootlog.pcr_mismatch' },
    { name: 'index out of range', quoted: { sha256: { '24': '00'.repeat(32) } }, id: 'bootlog.pcr_mismatch' },
  ])('rejects a quote with $name', ({ quoted, id }) => {
    const verdict = verifyEventLogAgainstPcrs(parseEventLog(load('kl_binary_bios_measurements-secureboot.bin')), assumeVerified(quoted as PcrValues<Hex>));
    expect(verdict.ok).toBe(false);
    expect(verdict.failures.map((f) => f.id)).toEqual([id]);
  });

  it('accepts quoted hex in upper case', () => {
    const file = 'kl_binary_bios_measurements-secureboot.bin';
    const verdict = verifyEventLogAgainstPcrs(parseEventLog(load(file)), assumeVerified({ sha256: { '0': expected[file]!.pcrs.sha256!['0']!.toUpperCase() } }));
    expect(verdict.ok).toBe(true);
  });
});
