import type { EventSpec } from './encode-event-log.js';
import { EV } from '../eventlog/event-types.js';
import { utf16le } from '../eventlog/event-text.js';
import { EFI_GLOBAL_VARIABLE } from '../eventlog/secure-boot.js';

const ascii = new TextEncoder();

function u64(v: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** EFI_GUID bytes from its text form (Data1-3 little-endian). */
export function guidBytes(guid: string): Uint8Array {
  const h = guid.replace(/-/g, '');
  const le = (s: string): number[] => Array.from(Buffer.from(s, 'hex')).reverse();
  return Uint8Array.from([...le(h.slice(0, 8)), ...le(h.slice(8, 12)), ...le(h.slice(12, 16)), ...Buffer.from(h.slice(16), 'hex')]);
}

/** UEFI_VARIABLE_DATA: GUID, UnicodeNameLength u64 (characters), VariableDataLength u64, UTF-16 name, data. */
export function encodeVariableData(guid: string, name: string, value: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([guidBytes(guid), u64(name.length), u64(value.length), utf16le(name), value]));
}

/** PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG of SecureBoot, digest over the whole UEFI_VARIABLE_DATA (as EDK2 does). */
export function secureBootEvent(enabled: boolean): EventSpec {
  return { pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData(EFI_GLOBAL_VARIABLE, 'SecureBoot', Uint8Array.of(enabled ? 1 : 0)) };
}

/** EV_SEPARATOR (4 zero bytes), closing a PCR's pre-OS measurements. */
export function separatorEvent(pcr: number): EventSpec {
  return { pcr, type: EV.SEPARATOR, data: new Uint8Array(4) };
}

/** An EFI device path of one file path media node and the end node. */
function filePathDevicePath(path: string): Uint8Array {
  const name = utf16le(`${path}\0`);
  const node = Buffer.alloc(4);
  node.writeUInt8(4, 0);
  node.writeUInt8(4, 1);
  node.writeUInt16LE(4 + name.length, 2);
  return new Uint8Array(Buffer.concat([node, name, Uint8Array.of(0x7f, 0xff, 4, 0)]));
}

/**
 * PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION for an image: UEFI_IMAGE_LOAD_EVENT with a file path. The
 * digest stands in for the Authenticode hash: it is the hash of `image`, so policies allow hash(image).
 */
export function efiBootApplicationEvent(image: Uint8Array, path = '\\EFI\\BOOT\\BOOTX64.EFI'): EventSpec {
  const devicePath = filePathDevicePath(path);
  const data = Buffer.concat([u64(0x10000000), u64(image.length), u64(0), u64(devicePath.length), devicePath]);
  return { pcr: 4, type: EV.EFI_BOOT_SERVICES_APPLICATION, data: new Uint8Array(data), measured: image };
}

/** grub's PCR 8 EV_IPL `kernel_cmdline: …\0`; grub hashes the command line alone, without prefix or NUL. */
export function grubKernelCmdlineEvent(cmdline: string): EventSpec {
  return { pcr: 8, type: EV.IPL, data: ascii.encode(`kernel_cmdline: ${cmdline}\0`), measured: ascii.encode(cmdline) };
}

/** grub's PCR 8 EV_IPL `grub_cmd: …\0` (e.g. `linux /vmlinuz root=…`), hashed without prefix or NUL. */
export function grubCommandEvent(command: string): EventSpec {
  return { pcr: 8, type: EV.IPL, data: ascii.encode(`grub_cmd: ${command}\0`), measured: ascii.encode(command) };
}

/** systemd-stub's PCR 12 EV_IPL: the UTF-16 command line with NUL, hashed without the NUL. */
export function systemdCmdlineEvent(cmdline: string): EventSpec {
  return { pcr: 12, type: EV.IPL, data: utf16le(`${cmdline}\0`), measured: utf16le(cmdline) };
}
