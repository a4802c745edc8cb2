import { EV, EVENT_TAG } from './event-types.js';
import { digestBinds } from './event-binding.js';
import { withoutTrailingNul } from './event-text.js';
import type { ParsedEvent } from './parsed-event-log.js';
import type { VerifiedEventLog } from './verify-event-log.js';

const ascii = new TextEncoder();
const GRUB_LINUX = /^(?:linux|linuxefi|linux16)\s+/;

/** A kernel command line as an event claims it, and the bytes its digest must be the hash of. */
export interface CommandLineClaim {
  readonly event: ParsedEvent;
  readonly cmdline: string;
  readonly measured: readonly Uint8Array[];
}

/** grub (PCR 8, EV_IPL): `kernel_cmdline: …` or `grub_cmd: linux …`; grub hashes the text after the prefix, without NUL. */
function grubClaim(e: ParsedEvent): CommandLineClaim | undefined {
  if (e.pcr !== 8 || e.type !== EV.IPL || e.decoded.kind !== 'text') return undefined;
  const t = e.decoded.text;
  if (t.startsWith('kernel_cmdline: ')) {
    const rest = t.slice('kernel_cmdline: '.length);
    return { event: e, cmdline: rest, measured: [ascii.encode(rest)] };
  }
  if (!t.startsWith('grub_cmd: ')) return undefined;
  const command = t.slice('grub_cmd: '.length);
  const m = GRUB_LINUX.exec(command);
  return m ? { event: e, cmdline: command.slice(m[0].length), measured: [ascii.encode(command)] } : undefined;
}

/** systemd-boot/-stub (PCR 12, EV_IPL): the UTF-16 command line, hashed without its trailing NUL. */
function systemdClaim(e: ParsedEvent): CommandLineClaim | undefined {
  if (e.pcr !== 12 || e.type !== EV.IPL || e.decoded.kind !== 'text' || e.decoded.encoding !== 'utf16le') return undefined;
  return { event: e, cmdline: e.decoded.text, measured: [withoutTrailingNul(e.data, 'utf16le'), e.data] };
}

/**
 * LOAD_OPTIONS tagged events (PCR 9 Linux EFI stub, PCR 12): the digest covers the load options.
 * The Linux stub logs only the description "LOADED_IMAGE::LoadOptions", which never binds, so the
 * command line is then unknown from the log (as it should be: we only report what the digest proves).
 */
function taggedClaim(e: ParsedEvent): CommandLineClaim | undefined {
  if ((e.pcr !== 9 && e.pcr !== 12) || e.type !== EV.EVENT_TAG || e.decoded.kind !== 'tagged') return undefined;
  if (e.decoded.tagId !== EVENT_TAG.LOAD_OPTIONS || e.decoded.text === undefined) return undefined;
  const data = e.decoded.tagData;
  return { event: e, cmdline: e.decoded.text, measured: [data, withoutTrailingNul(data, 'utf16le'), withoutTrailingNul(data, 'ascii')] };
}

/** Every event that claims to carry a kernel command line, bound or not. */
export function commandLineClaims(events: readonly ParsedEvent[]): CommandLineClaim[] {
  return events.flatMap((e) => {
    const c = grubClaim(e) ?? systemdClaim(e) ?? taggedClaim(e);
    return c ? [c] : [];
  });
}

/** The claims whose digest (in every verified bank) is the hash of the command line they show. */
export function splitBoundClaims(log: VerifiedEventLog): { bound: CommandLineClaim[]; unbound: CommandLineClaim[] } {
  const bound: CommandLineClaim[] = [];
  const unbound: CommandLineClaim[] = [];
  for (const c of commandLineClaims(log.events)) {
    (c.measured.some((m) => digestBinds(c.event, log.banks, m)) ? bound : unbound).push(c);
  }
  return { bound, unbound };
}

/**
 * Kernel command lines measured during this boot, in log order, from a verified log: grub's PCR 8
 * strings, systemd's PCR 12 UTF-16 strings, LOAD_OPTIONS tagged events. Only lines whose digest is
 * the hash of the text are returned; grub's own kernel path stays as the first word.
 */
export function measuredKernelCommandLines(log: VerifiedEventLog): string[] {
  return splitBoundClaims(log).bound.map((c) => c.cmdline);
}

/** Splits a kernel command line into parameters; double quotes group words, as the kernel does. */
export function kernelCmdlineParams(cmdline: string): string[] {
  const out: string[] = [];
  for (const m of cmdline.matchAll(/(?:[^\s"]+|"[^"]*"?)+/g)) out.push(m[0].replace(/"/g, ''));
  return out;
}
