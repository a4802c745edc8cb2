import { ByteReader } from '../binary/reader.js';
import { isParseError } from '../binary/parse-error.js';
import { EV } from './event-types.js';
import { decodeEventText, trimNuls } from './event-text.js';
import type { DecodedEvent } from './parsed-event-log.js';

const STARTUP_LOCALITY = 'StartupLocality\0';
/** Variable names longer than this (in UTF-16 code units) are hostile. */
const MAX_VARIABLE_NAME = 1024;
/** Device path nodes we walk before giving up on describing an image. */
const MAX_DEVICE_PATH_NODES = 256;

/** EFI_GUID as text: Data1 u32le, Data2 u16le, Data3 u16le, Data4[8] in byte order. */
export function formatGuid(b: Uint8Array): string {
  const h = (from: number, to: number, le: boolean): string => {
    const part = Array.from(b.subarray(from, to));
    return Buffer.from(le ? part.reverse() : part).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}

function decodeStartupLocality(data: Uint8Array): DecodedEvent {
  if (data.length !== STARTUP_LOCALITY.length + 1) return { kind: 'none' };
  for (let i = 0; i < STARTUP_LOCALITY.length; i++) if (data[i] !== STARTUP_LOCALITY.charCodeAt(i)) return { kind: 'none' };
  return { kind: 'startup-locality', locality: data[STARTUP_LOCALITY.length]! };
}

/** UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength u64, VariableDataLength u64, UnicodeName, VariableData. */
function decodeVariable(r: ByteReader): DecodedEvent {
  const guid = formatGuid(r.bytes(16, 'VariableName'));
  const nameLength = r.u64le('UnicodeNameLength');
  const dataLength = r.u64le('VariableDataLength');
  if (nameLength > BigInt(MAX_VARIABLE_NAME)) r.fail(`UnicodeNameLength ${nameLength} exceeds ${MAX_VARIABLE_NAME}`);
  if (dataLength > BigInt(r.remaining)) r.fail(`VariableDataLength ${dataLength} exceeds the event`);
  const name = Buffer.from(r.bytes(Number(nameLength) * 2, 'UnicodeName')).toString('utf16le');
  const value = r.bytes(Number(dataLength), 'VariableData');
  r.expectEnd();
  return { kind: 'efi-variable', guid, name, value };
}

/** File path media nodes (type 4, subtype 4) of an EFI device path, joined; undefined if none. */
function devicePathFile(devicePath: Uint8Array): string | undefined {
  const r = new ByteReader(devicePath, 'EFI_DEVICE_PATH_PROTOCOL');
  const parts: string[] = [];
  for (let n = 0; n < MAX_DEVICE_PATH_NODES && r.remaining >= 4; n++) {
    const type = r.u8('Type');
    const subType = r.u8('SubType');
    const length = r.u16le('Length');
    if (length < 4 || type === 0x7f) break;
    const body = r.bytes(length - 4, 'node');
    if (type === 4 && subType === 4) parts.push(trimNuls(Buffer.from(body).toString('utf16le')));
  }
  return parts.length > 0 ? parts.join('') : undefined;
}

/** UEFI_IMAGE_LOAD_EVENT: ImageLocationInMemory u64, ImageLengthInMemory u64, ImageLinkTimeAddress u64, LengthOfDevicePath u64, DevicePath. */
function decodeImage(r: ByteReader): DecodedEvent {
  r.u64le('ImageLocationInMemory');
  const length = r.u64le('ImageLengthInMemory');
  r.u64le('ImageLinkTimeAddress');
  const pathLength = r.u64le('LengthOfDevicePath');
  if (pathLength > BigInt(r.remaining)) r.fail(`LengthOfDevicePath ${pathLength} exceeds the event`);
  const devicePath = r.bytes(Number(pathLength), 'DevicePath');
  const filePath = devicePathFile(devicePath);
  return filePath === undefined ? { kind: 'efi-image', length, devicePath } : { kind: 'efi-image', length, devicePath, filePath };
}

/** TCG_PCClientTaggedEvent: taggedEventID u32, taggedEventDataSize u32, taggedEventData. */
function decodeTagged(r: ByteReader): DecodedEvent {
  const tagId = r.u32le('taggedEventID');
  const size = r.u32le('taggedEventDataSize');
  const tagData = r.bytes(size, 'taggedEventData');
  const text = decodeEventText(tagData)?.text;
  return text === undefined ? { kind: 'tagged', tagId, tagData } : { kind: 'tagged', tagId, tagData, text };
}

function decodeText(data: Uint8Array): DecodedEvent {
  const t = decodeEventText(data);
  return t === undefined ? { kind: 'none' } : { kind: 'text', ...t };
}

const variableTypes: ReadonlySet<number> = new Set([EV.EFI_VARIABLE_DRIVER_CONFIG, EV.EFI_VARIABLE_BOOT, EV.EFI_VARIABLE_BOOT2, EV.EFI_VARIABLE_AUTHORITY]);
const imageTypes: ReadonlySet<number> = new Set([EV.EFI_BOOT_SERVICES_APPLICATION, EV.EFI_BOOT_SERVICES_DRIVER, EV.EFI_RUNTIME_SERVICES_DRIVER]);

function decodeStructured(type: number, data: Uint8Array): DecodedEvent {
  const r = new ByteReader(data, 'event data');
  if (variableTypes.has(type)) return decodeVariable(new ByteReader(data, 'UEFI_VARIABLE_DATA'));
  if (imageTypes.has(type)) return decodeImage(new ByteReader(data, 'UEFI_IMAGE_LOAD_EVENT'));
  if (type === EV.EVENT_TAG) return decodeTagged(new ByteReader(data, 'TCG_PCClientTaggedEvent'));
  if (type === EV.SEPARATOR && data.length === 4) return { kind: 'separator', value: r.u32le('separator') };
  if (type === EV.NO_ACTION) return decodeStartupLocality(data);
  return decodeText(data);
}

/**
 * The event data we understand. Decoding is best-effort: a malformed structure inside an event is
 * reported as `malformed` (verifiers then fail closed on it) rather than failing the whole log.
 */
export function decodeEventData(type: number, data: Uint8Array): DecodedEvent {
  try {
    return decodeStructured(type, data);
  } catch (e) {
    if (isParseError(e)) return { kind: 'malformed', detail: e.message };
    throw e;
  }
}
