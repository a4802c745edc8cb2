import { createHash } from 'node:crypto';
import { efiBootApplicationEvent, grubCommandEvent, grubKernelCmdlineEvent, secureBootEvent, separatorEvent, systemdCmdlineEvent } from './event-builders.js';
import { encodeEventLog, eventLogMeasurements, eventLogPcrs, type EventLogSpec } from './encode-event-log.js';
import { EV } from '../eventlog/event-types.js';
import { parseEventLog } from '../eventlog/parse-event-log.js';
import { replayEventLog } from '../eventlog/replay-event-log.js';

const sha = (alg: string, ...parts: Uint8Array[]): Buffer => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
};

const spec: EventLogSpec = {
  banks: ['sha1', 'sha256', 'sha384'],
  events: [
    secureBootEvent(true),
    separatorEvent(7),
    efiBootApplicationEvent(new TextEncoder().encode('shim image'), '\\EFI\\BOOT\\BOOTX64.EFI'),
    efiBootApplicationEvent(new TextEncoder().encode('kernel image'), '\\vmlinuz'),
    grubCommandEvent('linux /vmlinuz ro roothash=ab12'),
    grubKernelCmdlineEvent('/vmlinuz ro roothash=ab12'),
    systemdCmdlineEvent('ro quiet'),
  ],
};

describe('encodeEventLog', () => {
  it('round-trips: parse → replay equals PCRs computed by hand', () => {
    const log = parseEventLog(encodeEventLog(spec));
    expect(log.format).toBe('crypto-agile');
    expect(log.banks).toEqual(['sha1', 'sha256', 'sha384']);
    expect(log.events.map((e) => e.decoded.kind)).toEqual(['spec-id', 'efi-variable', 'separator', 'efi-image', 'efi-image', 'text', 'text', 'text']);
    // Independent computation of sha256 PCR 4: two extends of hash(image) from zero.
    const z = Buffer.alloc(32);
    const pcr4 = sha('sha256', sha('sha256', z, sha('sha256', Buffer.from('shim image'))), sha('sha256', Buffer.from('kernel image')));
    // PCR 8: grub hashes the text after its prefix.
    const pcr8 = sha('sha256', sha('sha256', z, sha('sha256', Buffer.from('linux /vmlinuz ro roothash=ab12'))), sha('sha256', Buffer.from('/vmlinuz ro roothash=ab12')));
    const replayed = replayEventLog(log);
    expect(replayed.sha256?.['4']).toBe(pcr4.toString('hex'));
    expect(replayed.sha256?.['8']).toBe(pcr8.toString('hex'));
    expect(replayed).toEqual(eventLogPcrs(spec));
    expect(Object.keys(replayed.sha384 ?? {})).toEqual(['4', '7', '8', '12']);
  });

  it('honours a startup locality in PCR 0 and never extends EV_NO_ACTION', () => {
    const s: EventLogSpec = { banks: ['sha256'], startupLocality: 3, events: [{ pcr: 0, type: EV.S_CRTM_VERSION, data: Uint8Array.of(1) }, { pcr: 0, type: EV.NO_ACTION, data: Uint8Array.of(9) }] };
    const log = parseEventLog(encodeEventLog(s));
    expect(log.startupLocality).toBe(3);
    const init = Buffer.alloc(32);
    init[31] = 3;
    expect(replayEventLog(log)).toEqual({ sha256: { '0': sha('sha256', init, sha('sha256', Uint8Array.of(1))).toString('hex') } });
    expect(eventLogPcrs(s)).toEqual(replayEventLog(log));
    expect(eventLogMeasurements(s)).toHaveLength(1);
  });

  it('gives a simulated node the digests to extend, in order', () => {
    const m = eventLogMeasurements(spec);
    expect(m.map((x) => x.pcr)).toEqual([7, 7, 4, 4, 8, 8, 12]);
    expect(Buffer.from(m[2]!.digests.sha256!).toString('hex')).toBe(sha('sha256', Buffer.from('shim image')).toString('hex'));
  });

  it('decodes what the builders wrote', () => {
    const log = parseEventLog(encodeEventLog(spec));
    expect(log.events[1]!.decoded).toMatchObject({ kind: 'efi-variable', guid: '8be4df61-93ca-11d2-aa0d-00e098032b8c', name: 'SecureBoot', value: Uint8Array.of(1) });
    expect(log.events[3]!.decoded).toMatchObject({ kind: 'efi-image', filePath: '\\EFI\\BOOT\\BOOTX64.EFI', length: 10n });
    expect(log.events[7]!.decoded).toEqual({ kind: 'text', text: 'ro quiet', encoding: 'utf16le' });
  });
});
