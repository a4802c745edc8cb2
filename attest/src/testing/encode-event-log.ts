import { digestSize, extend, hash, hashAlgId, type HashAlgName } from '../hash-alg.js';
import { EV } from '../eventlog/event-types.js';
import { toHex } from '../eventlog/hex.js';
import type { PcrValues } from '../pcr.js';
import type { Hex } from '../wire.js';
import { initialPcrValue } from '../eventlog/replay-event-log.js';

/** One event to write. The digests are hashes of `measured` when given (grub strings, images), else of `data`. */
export interface EventSpec {
  readonly pcr: number;
  readonly type: number;
  readonly data: Uint8Array;
  readonly measured?: Uint8Array;
}

export interface EventLogSpec {
  readonly banks: readonly HashAlgName[];
  readonly events: readonly EventSpec[];
  /** Writes a StartupLocality EV_NO_ACTION first; PCR 0 then starts with this locality. */
  readonly startupLocality?: number;
}

/** What a simulated node extends into its TPM for one event: the PCR and one digest per bank. */
export interface Measurement {
  readonly pcr: number;
  readonly digests: Readonly<Partial<Record<HashAlgName, Uint8Array>>>;
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  u8(v: number): this {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return this.raw(b);
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.raw(b);
  }
  raw(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

/** TCG_EfiSpecIDEvent for the given banks: platform class 0, spec 2.0 errata 0, UINTN of 8 bytes. */
export function encodeSpecIdEvent(banks: readonly HashAlgName[]): Uint8Array {
  const w = new Writer().raw(new TextEncoder().encode('Spec ID Event03\0')).u32(0).u8(0).u8(2).u8(0).u8(2).u32(banks.length);
  for (const b of banks) w.u16(hashAlgId(b)).u16(digestSize(b));
  return w.u8(0).bytes();
}

function startupLocalityEvent(locality: number): EventSpec {
  const data = new Uint8Array(17);
  data.set(new TextEncoder().encode('StartupLocality\0'));
  data[16] = locality;
  return { pcr: 0, type: EV.NO_ACTION, data };
}

function allEvents(spec: EventLogSpec): EventSpec[] {
  return spec.startupLocality === undefined ? [...spec.events] : [startupLocalityEvent(spec.startupLocality), ...spec.events];
}

function digestOf(alg: HashAlgName, e: EventSpec): Uint8Array {
  return e.type === EV.NO_ACTION ? new Uint8Array(digestSize(alg)) : hash(alg, e.measured ?? e.data);
}

/**
 * Writes a crypto-agile event log (Spec ID header, then TCG_PCR_EVENT2 records) whose digests are
 * computed here. For tests and simulated nodes; EV_NO_ACTION events get zero digests.
 */
export function encodeEventLog(spec: EventLogSpec): Uint8Array {
  const header = encodeSpecIdEvent(spec.banks);
  const w = new Writer().u32(0).u32(EV.NO_ACTION).raw(new Uint8Array(20)).u32(header.length).raw(header);
  for (const e of allEvents(spec)) {
    w.u32(e.pcr).u32(e.type).u32(spec.banks.length);
    for (const alg of spec.banks) w.u16(hashAlgId(alg)).raw(digestOf(alg, e));
    w.u32(e.data.length).raw(e.data);
  }
  return w.bytes();
}

/** The digests a node must extend, in order, so its PCRs match encodeEventLog(spec). EV_NO_ACTION is skipped. */
export function eventLogMeasurements(spec: EventLogSpec): Measurement[] {
  return spec.events
    .filter((e) => e.type !== EV.NO_ACTION)
    .map((e) => ({ pcr: e.pcr, digests: Object.fromEntries(spec.banks.map((alg) => [alg, digestOf(alg, e)])) }));
}

/** The PCR values a TPM holds after extending eventLogMeasurements(spec), computed without parsing. */
export function eventLogPcrs(spec: EventLogSpec): PcrValues<Hex, HashAlgName> {
  const out: PcrValues<Hex, HashAlgName> = {};
  for (const alg of spec.banks) {
    const pcrs = new Map<number, Uint8Array>();
    for (const m of eventLogMeasurements(spec)) {
      pcrs.set(m.pcr, extend(alg, pcrs.get(m.pcr) ?? initialPcrValue(alg, m.pcr, spec.startupLocality), m.digests[alg]!));
    }
    out[alg] = Object.fromEntries([...pcrs.entries()].sort(([a], [b]) => a - b).map(([i, v]) => [String(i), toHex(v)]));
  }
  return out;
}
