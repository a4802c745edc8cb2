import { readFileSync } from 'node:fs';
import { ParseError } from '../binary/parse-error.js';
import { EV } from './event-types.js';
import { parseEventLog } from './parse-event-log.js';
import type { HashAlgName } from '../hash-alg.js';
import type { PcrValues } from '../pcr.js';
import { replayEventLog } from './replay-event-log.js';
import { assumeVerified } from '../testing/index.js';
import { verifyEventLogAgainstPcrs } from './verify-event-log.js';

/**
 * Event logs from real machines (testdata/PROVENANCE.md), each with the PCR values a reference
 * gives for it (testdata/expected.json says which): an Intel Boot Guard laptop starting at locality
 * 3, a Windows log with EV_NO_ACTION events in PCR 0xFFFFFFFF, a Lenovo/Phoenix log with 9-byte
 * EV_POST_CODE events and a duplicated EV_EFI_VARIABLE_AUTHORITY, GCE shielded VMs with a sha384
 * bank and Secure Boot certificates, and a legacy log holding only a StartupLocality.
 */
interface Expected { readonly pcrs: PcrValues<string, HashAlgName>; readonly startupLocality?: number; readonly expectedBy: string }
const dir = new URL('testdata/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<string, Expected>;
const log = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, dir)));

describe('real event logs replay to the reference PCR values', () => {
  it.each(Object.entries(expected))('%s', (name, want) => {
    const parsed = parseEventLog(log(name));
    expect(parsed.startupLocality).toBe(want.startupLocality);
    expect(replayEventLog(parsed)).toEqual(want.pcrs);
    const verdict = verifyEventLogAgainstPcrs(parsed, assumeVerified(want.pcrs));
    if (Object.values(want.pcrs).some((bank) => Object.keys(bank).length > 0)) expect(verdict.failures).toEqual([]);
  });

  it('Boot Guard (StartupLocality 3): the quote matches only when PCR 0 starts from the locality', () => {
    const parsed = parseEventLog(log('kl_boot_guard_locality3.bin'));
    expect(parsed.events[1]).toMatchObject({ pcr: 0, type: EV.NO_ACTION, decoded: { kind: 'startup-locality', locality: 3 } });
    expect(parsed.events[2]?.type).toBe(EV.S_CRTM_CONTENTS);
    const fromZero = verifyEventLogAgainstPcrs({ ...parsed, startupLocality: 0 }, assumeVerified(expected['kl_boot_guard_locality3.bin']!.pcrs));
    expect(fromZero.failures.map((f) => `${f.context?.bank}:${f.context?.pcr}`)).toEqual(['sha1:0', 'sha256:0']);
  });

  it('Windows: EV_NO_ACTION events in PCR 0xFFFFFFFF are parsed and never extended', () => {
    const parsed = parseEventLog(log('ga_option_rom_windows.bin'));
    const unlabelled = parsed.events.filter((e) => e.pcr === 0xffffffff);
    expect(unlabelled.length).toBeGreaterThan(0);
    expect(unlabelled.every((e) => e.type === EV.NO_ACTION)).toBe(true);
    expect(Object.keys(replayEventLog(parsed).sha1 ?? {})).not.toContain(String(0xffffffff));
  });

  it('a duplicated EV_EFI_VARIABLE_AUTHORITY is replayed like any other event', () => {
    const parsed = parseEventLog(log('tt_event-postcode.bin'));
    const authorities = parsed.events.filter((e) => e.type === EV.EFI_VARIABLE_AUTHORITY).map((e) => Buffer.from(e.data).toString('hex'));
    expect(new Set(authorities).size).toBeLessThan(authorities.length);
  });

  it('a log the firmware cut short: inside an event it is malformed; at an event boundary it fails the quote on the PCRs it misses', () => {
    const bytes = log('kl_boot_guard_locality3.bin');
    const full = parseEventLog(bytes);
    const cut = full.events[full.events.length - 10]!;
    expect(() => parseEventLog(bytes.subarray(0, cut.offset + 5))).toThrow(ParseError);
    const shorter = parseEventLog(bytes.subarray(0, cut.offset));
    expect(shorter.events).toHaveLength(full.events.length - 10);
    const missed = new Set(full.events.slice(-10).filter((e) => e.type !== EV.NO_ACTION).map((e) => e.pcr));
    expect(missed.size).toBeGreaterThan(0);
    const verdict = verifyEventLogAgainstPcrs(shorter, assumeVerified(expected['kl_boot_guard_locality3.bin']!.pcrs));
    expect(new Set(verdict.failures.map((f) => f.context?.pcr))).toEqual(missed);
    expect(verdict.failures.every((f) => f.id === 'bootlog.pcr_mismatch')).toBe(true);
  });
});
