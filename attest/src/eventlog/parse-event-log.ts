import { ByteReader } from '../binary/reader.js';
import { TPM_ALG, type HashAlgName } from '../hash-alg.js';
import { decodeEventData } from './event-data.js';
import { EV } from './event-types.js';
import type { DecodedEvent, EventDigest, ParsedEvent, ParsedEventLog, SpecIdEvent } from './parsed-event-log.js';
import { isSpecIdEvent03, parseSpecIdEvent } from './spec-id-event.js';

/** Largest event data we accept (firmware volumes logged as data stay far below this). */
export const MAX_EVENT_SIZE = 1 << 24;
/** Most events a log may hold: real logs have hundreds. */
export const MAX_EVENTS = 1 << 16;
/** PCRs 0-23 of a PC Client TPM. */
export const MAX_PCR_INDEX = 23;

interface Framed {
  readonly event: ParsedEvent;
  readonly next: number;
}

type Head = Pick<ParsedEvent, 'index' | 'offset' | 'pcr' | 'type'>;

/**
 * An EV_NO_ACTION event is never extended, so its PCR index is only a label: real logs carry some
 * outside 0-23 (Windows logs its own EV_NO_ACTION events in PCR 0xFFFFFFFF). Every other event must
 * name a PCR the TPM has.
 */
function readHead(r: ByteReader, index: number): Head {
  const offset = r.offset;
  const pcr = r.u32le('pcrIndex');
  const type = r.u32le('eventType');
  if (pcr > MAX_PCR_INDEX && type !== EV.NO_ACTION) r.fail(`pcrIndex ${pcr} exceeds ${MAX_PCR_INDEX}`, offset);
  return { index, offset, pcr, type };
}

function readData(r: ByteReader): Uint8Array {
  const size = r.u32le('eventSize');
  if (size > MAX_EVENT_SIZE) r.fail(`eventSize ${size} exceeds ${MAX_EVENT_SIZE}`, r.offset - 4);
  return r.bytes(size, 'event');
}

function framed(head: Head, digests: EventDigest[], data: Uint8Array, decoded: DecodedEvent, next: number): Framed {
  return { event: { ...head, digests, data, decoded }, next };
}

/** TCG_PCR_EVENT: pcrIndex u32le, eventType u32le, digest[20] (SHA-1), eventSize u32le, event[eventSize]. */
function readLegacyEvent(buf: Uint8Array, offset: number, index: number): Framed {
  const r = new ByteReader(buf, 'TCG_PCR_EVENT', offset);
  const head = readHead(r, index);
  const digest = r.bytes(20, 'digest');
  const data = readData(r);
  return framed(head, [{ algId: TPM_ALG.SHA1, alg: 'sha1', digest }], data, decodeEventData(head.type, data), r.offset);
}

/** The Spec ID header: a TCG_PCR_EVENT in PCR 0 of type EV_NO_ACTION carrying TCG_EfiSpecIDEvent. */
function readSpecIdHeader(buf: Uint8Array, first: ParsedEvent): SpecIdEvent {
  const dataOffset = first.offset + 32;
  const r = new ByteReader(buf, 'TCG_EfiSpecIDEvent', dataOffset, dataOffset + first.data.length);
  if (first.pcr !== 0) r.fail(`Spec ID event in PCR ${first.pcr}, expected 0`, first.offset);
  return parseSpecIdEvent(r);
}

function readDigests(r: ByteReader, spec: SpecIdEvent): EventDigest[] {
  const at = r.offset;
  const count = r.u32le('digests.count');
  if (count > spec.algorithms.length) r.fail(`${count} digests, the Spec ID event declares ${spec.algorithms.length}`, at);
  const digests: EventDigest[] = [];
  for (let i = 0; i < count; i++) {
    const algAt = r.offset;
    const algId = r.u16le('digests.hashAlg');
    const declared = spec.algorithms.find((a) => a.algId === algId);
    if (!declared) r.fail(`digest algorithm 0x${algId.toString(16)} not declared in the Spec ID event`, algAt);
    if (digests.some((d) => d.algId === algId)) r.fail(`digest algorithm 0x${algId.toString(16)} listed twice`, algAt);
    const digest = r.bytes(declared.digestSize, 'digests.digest');
    digests.push(declared.alg === undefined ? { algId, digest } : { algId, alg: declared.alg, digest });
  }
  return digests;
}

/**
 * TCG_PCR_EVENT2: pcrIndex u32le, eventType u32le, TPML_DIGEST_VALUES (count u32le, then per
 * digest hashAlg u16le and a digest of the size the Spec ID event declared), eventSize u32le, event.
 * Every measured event carries one digest per declared algorithm; EV_NO_ACTION events are not
 * extended and may carry fewer.
 */
function readAgileEvent(buf: Uint8Array, offset: number, index: number, spec: SpecIdEvent): Framed {
  const r = new ByteReader(buf, 'TCG_PCR_EVENT2', offset);
  const head = readHead(r, index);
  const digests = readDigests(r, spec);
  if (head.type !== EV.NO_ACTION && digests.length !== spec.algorithms.length) {
    r.fail(`${digests.length} digests, the Spec ID event declares ${spec.algorithms.length}`, offset + 8);
  }
  const data = readData(r);
  return framed(head, digests, data, decodeEventData(head.type, data), r.offset);
}

function startupLocality(events: readonly ParsedEvent[]): number | undefined {
  for (const e of events) {
    if (e.pcr !== 0) continue;
    if (e.type !== EV.NO_ACTION) return undefined;
    if (e.decoded.kind === 'startup-locality') return e.decoded.locality;
  }
  return undefined;
}

function readAll(buf: Uint8Array, first: Framed, read: (offset: number, index: number) => Framed): ParsedEvent[] {
  const events = [first.event];
  for (let offset = first.next; offset < buf.length; ) {
    if (events.length >= MAX_EVENTS) new ByteReader(buf, 'event log', offset).fail(`more than ${MAX_EVENTS} events`);
    const f = read(offset, events.length);
    events.push(f.event);
    offset = f.next;
  }
  return events;
}

function finish(format: ParsedEventLog['format'], banks: HashAlgName[], events: ParsedEvent[], specId?: SpecIdEvent): ParsedEventLog {
  const locality = startupLocality(events);
  const log: ParsedEventLog = { format, banks, events, ...(specId ? { specId } : {}) };
  return locality === undefined ? log : { ...log, startupLocality: locality };
}

/**
 * Parses a TCG firmware event log (binary_bios_measurements): the legacy SHA-1 format, or the
 * crypto-agile format announced by a `Spec ID Event03` header. The result is untrusted: replay it
 * against quoted PCRs (verifyEventLogAgainstPcrs) before believing any event. Throws only ParseError.
 */
export function parseEventLog(bytes: Uint8Array): ParsedEventLog {
  const buf = new Uint8Array(bytes);
  if (buf.length === 0) new ByteReader(buf, 'event log').fail('empty event log');
  const first = readLegacyEvent(buf, 0, 0);
  if (first.event.type !== EV.NO_ACTION || !isSpecIdEvent03(first.event.data)) {
    return finish('legacy-sha1', ['sha1'], readAll(buf, first, (o, i) => readLegacyEvent(buf, o, i)));
  }
  const specId = readSpecIdHeader(buf, first.event);
  const header: Framed = { event: { ...first.event, decoded: { kind: 'spec-id', specId } }, next: first.next };
  const banks = specId.algorithms.flatMap((a) => (a.alg === undefined ? [] : [a.alg]));
  return finish('crypto-agile', banks, readAll(buf, header, (o, i) => readAgileEvent(buf, o, i, specId)), specId);
}
