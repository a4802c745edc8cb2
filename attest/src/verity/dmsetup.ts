import { ParseError } from '../binary/parse-error.js';
import { normalizeHex } from '../eventlog/hex.js';
import type { Hex, VerityDeviceStatus } from '../wire.js';

/** One target line of `dmsetup status` or `dmsetup table`: `name: start length target args…`. */
export interface DmTargetLine {
  /** Byte offset of the line in the text (for errors). */
  readonly offset: number;
  readonly name: string;
  readonly start: number;
  readonly length: number;
  readonly target: string;
  readonly args: readonly string[];
}

const LINE = /^(\S(?:.*\S)?): (\d+) (\d+) ([a-z0-9_-]+)(?: (.*))?$/;
const MAX_LINES = 4096;

/** Parses dmsetup's multi-device output; "No devices found" and blank lines are fine, anything else unknown is not. */
export function parseDmsetupLines(text: string, structure: string): DmTargetLine[] {
  const out: DmTargetLine[] = [];
  let offset = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (out.length >= MAX_LINES) throw new ParseError(structure, offset, `more than ${MAX_LINES} lines`);
    const m = LINE.exec(line);
    if (m) {
      out.push({ offset, name: m[1]!, start: Number(m[2]), length: Number(m[3]), target: m[4]!, args: (m[5] ?? '').split(/\s+/).filter(Boolean) });
    } else if (line.trim() !== '' && line.trim() !== 'No devices found') {
      throw new ParseError(structure, offset, `not "name: start length target …": ${JSON.stringify(line.slice(0, 80))}`);
    }
    offset += raw.length + 1;
  }
  return out;
}

/** `dmsetup status`: verity targets report `V` (verified) or `C` (corruption detected). */
export function parseDmsetupStatus(text: string): Map<string, VerityDeviceStatus['status']> {
  const out = new Map<string, VerityDeviceStatus['status']>();
  for (const l of parseDmsetupLines(text, 'dmsetup status')) {
    if (l.target !== 'verity') continue;
    const s = l.args[0] === 'V' ? 'verified' : l.args[0] === 'C' ? 'corrupted' : 'unknown';
    const prev = out.get(l.name);
    // A device of several targets is only as good as its worst target.
    out.set(l.name, prev === undefined || prev === 'verified' ? s : prev === 'corrupted' || s === 'corrupted' ? 'corrupted' : 'unknown');
  }
  return out;
}

/** `dmsetup table`: verity tables `version data_dev hash_dev data_bs hash_bs blocks hash_start alg root_hash salt [opts]`. */
export function parseDmsetupTable(text: string): Map<string, Hex> {
  const out = new Map<string, Hex>();
  for (const l of parseDmsetupLines(text, 'dmsetup table')) {
    if (l.target !== 'verity') continue;
    const root = normalizeHex(l.args[8] ?? '');
    if (l.args.length < 10 || root === undefined || root === '') {
      throw new ParseError('dmsetup table', l.offset, `verity table of ${l.name} has no root hash`);
    }
    const prev = out.get(l.name);
    if (prev !== undefined && prev !== root) throw new ParseError('dmsetup table', l.offset, `device ${l.name} has two root hashes`);
    out.set(l.name, root);
  }
  return out;
}

/**
 * What the agent reports for GET /v1/verity: every verity device of `dmsetup table`, with its
 * status from `dmsetup status` ('unknown' when status does not list it).
 */
export function parseVerityDevices(statusText: string, tableText: string): VerityDeviceStatus[] {
  const status = parseDmsetupStatus(statusText);
  return [...parseDmsetupTable(tableText)].map(([name, rootHash]) => ({ name, rootHash, status: status.get(name) ?? 'unknown' }));
}
