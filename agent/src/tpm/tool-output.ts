import { isBankName, type BankName, type Hex, type PcrValues } from '@nodeward/attest';

/**
 * Parsing of tpm2-tools' YAML-ish stdout. Only the few shapes the agent needs, line-based: the
 * tools print `key: value` pairs with two-space indentation.
 */

/** The `pcrs:` section tpm2_quote prints: bank → index → lowercase hex. */
export function parseQuotePcrs(stdout: string): PcrValues<Hex> {
  const out: PcrValues<Hex> = {};
  let inPcrs = false;
  let bank: BankName | undefined;
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line)) { inPcrs = line.startsWith('pcrs:'); bank = undefined; continue; }
    if (!inPcrs) continue;
    const b = /^ {2}(\w+):\s*$/.exec(line);
    if (b) { bank = isBankName(b[1]!) ? b[1] : undefined; if (bank) out[bank] = {}; continue; }
    const v = /^ {4}(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$/.exec(line);
    if (v && bank) out[bank]![String(Number(v[1]))] = v[2]!.toLowerCase();
  }
  return out;
}

/** `tpm2_getcap properties-fixed`: property name → raw number (and the `value:` string when printed). */
export function parseFixedProperties(stdout: string): Map<string, { raw: number; value?: string }> {
  const props = new Map<string, { raw: number; value?: string }>();
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    const head = /^(TPM2?_PT_\w+):/.exec(line);
    if (head) { current = head[1]; continue; }
    const raw = /^\s+raw:\s*(0x[0-9A-Fa-f]+|\d+)/.exec(line);
    if (raw && current) { props.set(current, { raw: Number(raw[1]) }); continue; }
    const value = /^\s+value:\s*"?(.*?)"?\s*$/.exec(line);
    if (value && current && props.has(current)) props.get(current)!.value = value[1];
  }
  return props;
}

/** Manufacturer (4 ASCII chars of TPM_PT_MANUFACTURER) and firmware version as Keylime prints it. */
export function describeTpm(props: Map<string, { raw: number; value?: string }>): { manufacturer: string; firmwareVersion: string } {
  const m = props.get('TPM2_PT_MANUFACTURER')?.raw ?? 0;
  const manufacturer = Buffer.from([m >>> 24, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff])
    .toString('latin1').replace(/[^\x20-\x7e]/g, '').trim();
  const f1 = props.get('TPM2_PT_FIRMWARE_VERSION_1')?.raw ?? 0;
  const f2 = props.get('TPM2_PT_FIRMWARE_VERSION_2')?.raw ?? 0;
  const firmwareVersion = [f1 >>> 16, f1 & 0xffff, f2 >>> 16, f2 & 0xffff].join('.');
  return { manufacturer, firmwareVersion };
}

const TPM_GENERATED = 0xff544347;

/** tpm2_quote -m writes TPMS_ATTEST; some versions wrap it in TPM2B_ATTEST. Returns the TPMS_ATTEST bytes. */
export function unwrapAttest(msg: Buffer): Buffer {
  if (msg.length >= 4 && msg.readUInt32BE(0) === TPM_GENERATED) return msg;
  if (msg.length >= 6 && msg.readUInt16BE(0) === msg.length - 2 && msg.readUInt32BE(2) === TPM_GENERATED) return msg.subarray(2);
  throw new Error('quote message is neither TPMS_ATTEST nor TPM2B_ATTEST');
}

/**
 * NV indices are often larger than the certificate they hold (zero or 0xff padding): keep exactly
 * the DER SEQUENCE. Returns undefined when the bytes do not start with a definite-length SEQUENCE.
 */
export function trimDer(nv: Buffer): Buffer | undefined {
  if (nv.length < 2 || nv[0] !== 0x30) return undefined;
  const first = nv[1]!;
  if (first < 0x80) return nv.subarray(0, Math.min(nv.length, 2 + first));
  const n = first & 0x7f;
  if (n === 0 || n > 4 || nv.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + nv[2 + i]!;
  const total = 2 + n + len;
  return total <= nv.length ? nv.subarray(0, total) : undefined;
}
