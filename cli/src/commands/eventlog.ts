import { eventTypeName, isParseError, parseEventLog, replayEventLog, toHex, type ParsedEvent } from '@nodeward/attest';
import { CliUsageError, INPUT_LIMITS, parseFlags, type CliIo, type Command } from '../cli-io.js';

const MAX_DESCRIPTION = 120;

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > MAX_DESCRIPTION ? `${one.slice(0, MAX_DESCRIPTION - 1)}…` : one;
}

type Decoded = ParsedEvent['decoded'];
type Describers = { [K in Decoded['kind']]: (d: Extract<Decoded, { kind: K }>, e: ParsedEvent) => string };

const describers: Describers = {
  'spec-id': (d) => `Spec ID Event03, ${d.specId.algorithms.map((a) => a.alg ?? `alg 0x${a.algId.toString(16)}`).join(', ')}`,
  'startup-locality': (d) => `StartupLocality ${d.locality}`,
  'efi-variable': (d) => `${d.name} {${d.guid}} = ${d.value.length === 1 ? String(d.value[0]) : `${d.value.length} bytes`}`,
  'efi-image': (d) => `image ${d.filePath ?? '(no file path)'} (${d.length} bytes)`,
  tagged: (d) => `tag 0x${d.tagId.toString(16)} ${d.text === undefined ? `${d.tagData.length} bytes` : short(d.text)}`,
  text: (d) => short(d.text),
  separator: (d) => `separator 0x${d.value.toString(16)}`,
  malformed: (d) => `malformed: ${d.detail}`,
  none: (_d, e) => `${e.data.length} bytes`,
};

/** One line saying what an event is, from its decoded data. */
export function describeEvent(e: ParsedEvent): string {
  const describe = describers[e.decoded.kind] as (d: Decoded, e: ParsedEvent) => string;
  return describe(e.decoded, e);
}

function digests(e: ParsedEvent): Record<string, string> {
  return Object.fromEntries(e.digests.map((d) => [d.alg ?? `alg_0x${d.algId.toString(16)}`, toHex(d.digest)]));
}

function positional(args: string[]): { file: string; rest: string[] } {
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length !== 1) throw new CliUsageError('exactly one event log FILE is required');
  return { file: files[0]!, rest: args.filter((a) => a.startsWith('--')) };
}

function parse(io: CliIo, file: string): ReturnType<typeof parseEventLog> {
  const bytes = io.readFile(file, INPUT_LIMITS.eventLog);
  try {
    return parseEventLog(bytes);
  } catch (e) {
    if (isParseError(e)) throw new CliUsageError(`malformed event log ${file}: ${e.structure} at offset ${e.offset}: ${e.detail}`);
    throw e;
  }
}

function printText(io: CliIo, log: ReturnType<typeof parseEventLog>, pcrs: ReturnType<typeof replayEventLog>): void {
  io.out(`format: ${log.format}, ${log.events.length} events, banks: ${log.banks.join(', ') || 'none'}`);
  for (const e of log.events) {
    io.out(`#${e.index} PCR ${e.pcr} ${eventTypeName(e.type)}: ${describeEvent(e)}`);
    for (const [alg, hex] of Object.entries(digests(e))) io.out(`    ${alg}: ${hex}`);
  }
  for (const [bank, values] of Object.entries(pcrs)) {
    io.out(`PCRs ${bank}:`);
    for (const [index, hex] of Object.entries(values)) io.out(`  ${index.padStart(2)}: ${hex}`);
  }
}

/**
 * `nodeward eventlog FILE [--json]`: prints the events of a TCG firmware event log and the PCR
 * values its replay gives, per bank. The log is not verified (no quote): this is a dump.
 */
export const eventlog: Command = (args, io) => {
  const { file, rest } = positional(args);
  const flags = parseFlags(rest, [], ['json']);
  const log = parse(io, file);
  const pcrs = replayEventLog(log);
  if (flags.has('json')) {
    const events = log.events.map((e) => ({ index: e.index, pcr: e.pcr, type: eventTypeName(e.type), digests: digests(e), description: describeEvent(e) }));
    io.out(JSON.stringify({ pcrs, events }));
  } else {
    printText(io, log, pcrs);
  }
  return 0;
};
