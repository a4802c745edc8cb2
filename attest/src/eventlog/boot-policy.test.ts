import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { verifyBootPolicy, type BootPolicy } from './boot-policy.js';
import { encodeEventLog, eventLogPcrs, type EventLogSpec, type EventSpec } from '../testing/encode-event-log.js';
import { efiBootApplicationEvent, encodeVariableData, grubCommandEvent, grubKernelCmdlineEvent, secureBootEvent, separatorEvent, systemdCmdlineEvent } from '../testing/event-builders.js';
import { EV, EVENT_TAG } from './event-types.js';
import { measuredKernelCommandLines } from './kernel-cmdline.js';
import { parseEventLog } from './parse-event-log.js';
import { EFI_GLOBAL_VARIABLE, secureBootState } from './secure-boot.js';
import { assumeVerified } from '../testing/index.js';
import { verifyEventLogAgainstPcrs, type VerifiedEventLog } from './verify-event-log.js';
import type { PcrValues } from '../pcr.js';
import type { Hex } from '../wire.js';

const te = new TextEncoder();
const shim = te.encode('shim');
const kernel = te.encode('kernel');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function verified(events: EventSpec[], quoted?: PcrValues<Hex>): VerifiedEventLog {
  const spec: EventLogSpec = { banks: ['sha1', 'sha256'], events };
  const verdict = verifyEventLogAgainstPcrs(parseEventLog(encodeEventLog(spec)), assumeVerified(quoted ?? (eventLogPcrs(spec))));
  if (!verdict.ok) throw new Error(JSON.stringify(verdict.failures));
  return verdict.log;
}

const good: EventSpec[] = [
  secureBootEvent(true),
  separatorEvent(7),
  efiBootApplicationEvent(shim),
  efiBootApplicationEvent(kernel, '\\vmlinuz'),
  grubCommandEvent('linux /vmlinuz ro roothash=ab12'),
  grubKernelCmdlineEvent('/vmlinuz ro roothash=ab12'),
];
const allowed = { bank: 'sha256' as const, digests: [sha256(shim), sha256(kernel).toUpperCase()] };
const replace = (i: number, e: EventSpec): EventSpec[] => good.map((x, j) => (j === i ? e : x));
const without = (i: number): EventSpec[] => good.filter((_, j) => j !== i);

const fixtureDir = new URL('../../../../shared/fixtures/eventlogs/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', fixtureDir), 'utf8')) as Record<string, { pcrs: PcrValues<Hex> }>;
function fixture(file: string): VerifiedEventLog {
  const verdict = verifyEventLogAgainstPcrs(parseEventLog(readFileSync(new URL(file, fixtureDir))), assumeVerified(expected[file]!.pcrs));
  if (!verdict.ok) throw new Error(JSON.stringify(verdict.failures));
  return verdict.log;
}

describe('verifyBootPolicy', () => {
  it.each<{ name: string; events: EventSpec[]; policy: BootPolicy; ids: string[] }>([
    { name: 'compliant log, full policy', events: good, policy: { secureBootRequired: true, allowedBootDigests: allowed, requiredKernelCmdline: ['ro', 'roothash='] }, ids: [] },
    { name: 'empty policy checks nothing', events: good, policy: {}, ids: [] },
    { name: 'secure boot on', events: good, policy: { secureBootRequired: true }, ids: [] },
    { name: 'secure boot off', events: replace(0, secureBootEvent(false)), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_disabled'] },
    { name: 'secure boot off but not required', events: replace(0, secureBootEvent(false)), policy: { secureBootRequired: false }, ids: [] },
    { name: 'secure boot variable absent', events: without(0), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_unknown'] },
    { name: 'secure boot event data not covered by its digest', events: replace(0, { ...secureBootEvent(true), measured: secureBootEvent(false).data }), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_unknown'] },
    { name: 'secure boot variable truncated (malformed)', events: replace(0, { pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: secureBootEvent(true).data.subarray(0, 52) }), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_unknown'] },
    { name: 'secure boot variable empty (not set)', events: replace(0, { pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData(EFI_GLOBAL_VARIABLE, 'SecureBoot', new Uint8Array(0)) }), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_disabled'] },
    { name: 'secure boot value 2', events: replace(0, { pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData(EFI_GLOBAL_VARIABLE, 'SecureBoot', Uint8Array.of(2)) }), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_disabled'] },
    { name: 'a SecureBoot variable under another vendor GUID does not count', events: replace(0, { pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData('d719b2cb-3d3a-4596-a3bc-dad00e67656f', 'SecureBoot', Uint8Array.of(1)) }), policy: { secureBootRequired: true }, ids: ['bootlog.secure_boot_unknown'] },
    { name: 'boot digests allowed', events: good, policy: { allowedBootDigests: allowed }, ids: [] },
    { name: 'boot digest not allowed', events: replace(3, efiBootApplicationEvent(te.encode('evil kernel'))), policy: { allowedBootDigests: allowed }, ids: ['bootlog.boot_digest_not_allowed'] },
    { name: 'boot digests in an unquoted bank', events: good, policy: { allowedBootDigests: { bank: 'sha384', digests: [] } }, ids: ['bootlog.bank_unverified'] },
    { name: 'no boot application', events: without(3).filter((_, j) => j !== 2), policy: { allowedBootDigests: allowed }, ids: ['bootlog.boot_application_missing'] },
    { name: 'cmdline terms present', events: good, policy: { requiredKernelCmdline: ['ro', 'roothash='] }, ids: [] },
    { name: 'cmdline term missing from both grub lines', events: good, policy: { requiredKernelCmdline: ['ima_appraise=enforce'] }, ids: ['bootlog.cmdline_term_missing', 'bootlog.cmdline_term_missing'] },
    { name: 'a prefix term needs a value', events: replace(5, grubKernelCmdlineEvent('/vmlinuz ro roothash=')), policy: { requiredKernelCmdline: ['roothash='] }, ids: ['bootlog.cmdline_term_missing'] },
    { name: 'an exact term does not match a prefix', events: good, policy: { requiredKernelCmdline: ['roothash'] }, ids: ['bootlog.cmdline_term_missing', 'bootlog.cmdline_term_missing'] },
    { name: 'a later command line without the term fails', events: [...good, systemdCmdlineEvent('quiet')], policy: { requiredKernelCmdline: ['ro'] }, ids: ['bootlog.cmdline_term_missing'] },
    { name: 'no command line measured', events: good.slice(0, 4), policy: { requiredKernelCmdline: ['ro'] }, ids: ['bootlog.cmdline_missing'] },
    {
      name: 'command line text not covered by its digest',
      events: [...good.slice(0, 4), { ...grubKernelCmdlineEvent('/vmlinuz ro roothash=ab12'), measured: te.encode('/vmlinuz rw') }],
      policy: { requiredKernelCmdline: ['ro'] },
      ids: ['bootlog.cmdline_unbound', 'bootlog.cmdline_missing'],
    },
    { name: 'expected PCR right', events: good, policy: { expectedPcrs: { sha256: { '4': eventLogPcrs({ banks: ['sha256'], events: good }).sha256!['4']! } } }, ids: [] },
    { name: 'expected PCR wrong', events: good, policy: { expectedPcrs: { sha256: { '4': '00'.repeat(32) } } }, ids: ['bootlog.pcr_unexpected'] },
    { name: 'expected PCR not quoted', events: good, policy: { expectedPcrs: { sha256: { '11': '00'.repeat(32) } } }, ids: ['bootlog.pcr_unverified'] },
  ])('$name', ({ events, policy, ids }) => {
    expect(verifyBootPolicy(verified(events), policy).map((f) => f.id)).toEqual(ids);
  });

  it('ignores events of PCRs the quote did not cover', () => {
    const all = eventLogPcrs({ banks: ['sha1', 'sha256'], events: good });
    const onlyPcr4 = { sha256: { '4': all.sha256!['4']! } };
    expect(verifyBootPolicy(verified(good, onlyPcr4), { secureBootRequired: true, requiredKernelCmdline: ['ro'], allowedBootDigests: allowed }).map((f) => f.id)).toEqual([
      'bootlog.secure_boot_unknown',
      'bootlog.cmdline_missing',
    ]);
  });

  it('reads command lines from LOAD_OPTIONS tagged events only when the digest covers them', () => {
    const options = Buffer.from('root=/dev/sda ro\0', 'utf16le');
    const tagged = (pcr: number, data: Uint8Array, measured: Uint8Array): EventSpec => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(EVENT_TAG.LOAD_OPTIONS, 0);
      head.writeUInt32LE(data.length, 4);
      return { pcr, type: EV.EVENT_TAG, data: Buffer.concat([head, data]), measured };
    };
    // Linux EFI stub: the tagged data is a description, the digest covers the options: no text to trust.
    const stub = tagged(9, Buffer.from('LOADED_IMAGE::LoadOptions\0'), options);
    const bound = tagged(12, options, options);
    expect(measuredKernelCommandLines(verified([stub, bound]))).toEqual(['root=/dev/sda ro']);
  });
});

describe('real logs', () => {
  it('kl log: Secure Boot on, grub command lines measured', () => {
    const log = fixture('kl_binary_bios_measurements-secureboot.bin');
    expect(secureBootState(log)).toBe('enabled');
    const lines = measuredKernelCommandLines(log);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^\(hd0,gpt2\)\/vmlinuz-5\.14\.0-503\.11\.1\.el9_5\.x86_64 root=\/dev\/mapper\/rhel_rhel--9-root ro /);
    expect(verifyBootPolicy(log, { secureBootRequired: true, requiredKernelCmdline: ['ro', 'console=ttyS0', 'crashkernel='] })).toEqual([]);
  });

  it('ga log: Secure Boot off', () => {
    const log = fixture('ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin');
    expect(secureBootState(log)).toBe('disabled');
    expect(measuredKernelCommandLines(log)).toEqual([
      '/boot/vmlinuz-5.11.0-1006-gcp root=PARTUUID=6443a6ae-e5e9-4df7-9a06-d1329e50f33c ro console=ttyS0 panic=-1',
      '/boot/vmlinuz-5.11.0-1006-gcp root=PARTUUID=6443a6ae-e5e9-4df7-9a06-d1329e50f33c ro console=ttyS0 panic=-1',
    ]);
    expect(verifyBootPolicy(log, { secureBootRequired: true, requiredKernelCmdline: ['panic=', 'roothash='] }).map((f) => f.id)).toEqual([
      'bootlog.secure_boot_disabled',
      'bootlog.cmdline_term_missing',
      'bootlog.cmdline_term_missing',
    ]);
  });

  it('ga log: boot application digests against an allow list', () => {
    const log = fixture('ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin');
    const apps = log.events.filter((e) => e.pcr === 4 && e.type === EV.EFI_BOOT_SERVICES_APPLICATION);
    const digests = apps.map((e) => Buffer.from(e.digests.find((d) => d.alg === 'sha256')!.digest).toString('hex'));
    expect(digests.length).toBeGreaterThan(1);
    expect(verifyBootPolicy(log, { allowedBootDigests: { bank: 'sha256', digests } })).toEqual([]);
    expect(verifyBootPolicy(log, { allowedBootDigests: { bank: 'sha256', digests: digests.slice(1) } }).map((f) => f.id)).toEqual(['bootlog.boot_digest_not_allowed']);
  });
});
