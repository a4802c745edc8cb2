import { readFileSync } from 'node:fs';
import { CliUsageError, type CliIo } from '../cli-io.js';
import { runCli } from '../run-cli.js';
import { eventlog } from './eventlog.js';

const dir = new URL('../../../../shared/fixtures/eventlogs/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<string, { pcrs: Record<string, Record<string, string>> }>;

function fakeIo(files: Record<string, Uint8Array>): CliIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return {
    outLines,
    errLines,
    out: (l) => outLines.push(l),
    err: (l) => errLines.push(l),
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new CliUsageError(`cannot read ${p}: ENOENT`);
      return Buffer.from(f);
    },
  };
}

const fixtureFiles = Object.fromEntries(Object.keys(expected).map((f) => [f, new Uint8Array(readFileSync(new URL(f, dir)))]));

describe('nodeward eventlog', () => {
  it.each(Object.keys(expected))('--json on %s prints the expected PCRs and every event', async (file) => {
    const io = fakeIo(fixtureFiles);
    expect(await runCli(['eventlog', file, '--json'], io)).toBe(0);
    expect(io.outLines).toHaveLength(1);
    const out = JSON.parse(io.outLines[0]!) as { pcrs: Record<string, Record<string, string>>; events: { index: number; pcr: number; type: string; digests: Record<string, string>; description: string }[] };
    expect(Object.keys(out)).toEqual(['pcrs', 'events']);
    for (const [bank, values] of Object.entries(expected[file]!.pcrs)) expect(out.pcrs[bank]).toEqual(values);
    expect(out.events[0]).toMatchObject({ index: 0, pcr: 0, type: 'EV_NO_ACTION' });
    expect(out.events[0]!.description).toMatch(/^Spec ID Event03/);
    expect(out.events.some((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION' && /^image \\EFI\\/.test(e.description))).toBe(true);
    expect(out.events.every((e, i) => e.index === i)).toBe(true);
  });

  it('text output lists events and the replayed PCRs per bank', async () => {
    const file = 'ga_ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin';
    const io = fakeIo(fixtureFiles);
    expect(await eventlog([file], io)).toBe(0);
    expect(io.outLines[0]).toMatch(/^format: crypto-agile, \d+ events, banks: sha1, sha256, sha384$/);
    expect(io.outLines).toContain('#3 PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG: SecureBoot {8be4df61-93ca-11d2-aa0d-00e098032b8c} = 0');
    const at = io.outLines.indexOf('PCRs sha384:');
    expect(at).toBeGreaterThan(0);
    expect(io.outLines[at + 1]).toBe(`   0: ${expected[file]!.pcrs.sha384!['0']}`);
  });

  it.each<{ name: string; args: string[]; files: Record<string, Uint8Array>; err: RegExp }>([
    { name: 'garbage', args: ['bad.bin'], files: { 'bad.bin': new Uint8Array([1, 2, 3]) }, err: /^nodeward eventlog: malformed event log bad\.bin: TCG_PCR_EVENT at offset 0: / },
    { name: 'truncated fixture', args: ['cut.bin'], files: { 'cut.bin': fixtureFiles['kl_binary_bios_measurements-secureboot.bin']!.subarray(0, 1000) }, err: /^nodeward eventlog: malformed event log cut\.bin: TCG_PCR_EVENT2 at offset \d+: / },
    { name: 'empty file', args: ['empty.bin'], files: { 'empty.bin': new Uint8Array(0) }, err: /malformed event log empty\.bin: event log at offset 0: empty event log$/ },
    { name: 'unreadable file', args: ['missing.bin'], files: {}, err: /^nodeward eventlog: cannot read missing\.bin: ENOENT$/ },
    { name: 'no file', args: [], files: {}, err: /FILE is required/ },
    { name: 'two files', args: ['a', 'b'], files: {}, err: /FILE is required/ },
    { name: 'unknown flag', args: ['a', '--yaml'], files: { a: new Uint8Array(0) }, err: /unexpected argument: --yaml/ },
  ])('$name: exit 2 with one clear line', async ({ args, files, err }) => {
    const io = fakeIo(files);
    expect(await runCli(['eventlog', ...args], io)).toBe(2);
    expect(io.errLines).toHaveLength(1);
    expect(io.errLines[0]).toMatch(err);
    expect(io.errLines[0]).not.toMatch(/\n\s+at /);
    expect(io.outLines).toEqual([]);
  });
});
