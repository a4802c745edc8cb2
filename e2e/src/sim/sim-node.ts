import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BANK_NAMES, BOOT_PCRS, EV, type HashAlgName, type Hex, type PcrValues } from '@nodeward/attest';
import { efiBootApplicationEvent, encodeEventLog, eventLogMeasurements, eventLogPcrs, grubKernelCmdlineEvent, secureBootEvent, separatorEvent, type EventLogSpec } from '@nodeward/attest/testing';
import { encodeImaNgEntry } from './attest-parts.js';
import { startSwtpm, tpm2, type Swtpm } from './swtpm.js';
import { runCommand } from './run-command.js';

/**
 * A simulated node: its own swtpm on the node's loopback address and a host-root tree holding what
 * the kernel would expose (boot event log, IMA list, dm-verity status). Every measurement written to
 * a log is also extended into the swtpm, so replaying a log gives the TPM's PCRs.
 */

export const IMA_PATH = 'sys/kernel/security/ima/binary_runtime_measurements';
export const BOOT_LOG_PATH = 'sys/kernel/security/tpm0/binary_bios_measurements';
export const VERITY_STATUS_PATH = 'run/nodeward/dmsetup-status';
export const VERITY_TABLE_PATH = 'run/nodeward/dmsetup-table';
// systemd-veritysetup names the device a `roothash=` sets up `root`.
export const VERITY_DEVICE = 'root';

export interface SimNodeOptions {
  name: string;
  /** 127.0.x.y: the swtpm listens here, the agent should too. */
  ip: string;
  baseDir: string;
  /** The swtpm manufacturing CA (createSwtpmCa): the EK certificates' issuer. */
  ca: { setupConfig: string };
  /** Default true. */
  secureBoot?: boolean;
  /** Kernel parameters besides `roothash=…`. Default `root=/dev/mapper/root ro ima_policy=tcb`. */
  cmdline?: string;
  /** Size of the dm-verity data image; default 2 MiB. */
  verityImageBytes?: number;
}

export interface VerityImage {
  dataImage: string;
  hashImage: string;
  rootHash: string;
  salt: string;
  dataBlocks: number;
}

export interface SimNode {
  name: string;
  ip: string;
  dir: string;
  /** The agent's `hostRoot`. */
  hostRoot: string;
  swtpm: Swtpm;
  tcti: string;
  verity: VerityImage;
  /** The measured kernel command line, containing `roothash=<verity.rootHash>`. */
  kernelCmdline: string;
  /** The boot event log (binary_bios_measurements) as written. */
  bootLog(): Promise<Buffer>;
  /** PCR values the boot log produces (what the swtpm holds right after boot), per bank. */
  bootPcrs(): PcrValues<Hex, HashAlgName>;
  /** Entries in the IMA list now (the boot aggregate counts). */
  imaEntryCount(): number;
  /** Measures a file as IMA does: appends an ima-ng entry (sha256 of contents) and extends PCR 10 in every bank. */
  appendImaFile(path: string, contents: string | Uint8Array): Promise<{ templateHash: string; fileDigest: string }>;
  /** Tampers (or restores) one byte of the data image, runs `veritysetup verify`, writes the dmsetup status. */
  setVerityCorrupted(corrupted: boolean): Promise<void>;
  /**
   * Power-cycles the swtpm, replays the boot log into it and restarts the IMA list at the boot aggregate.
   * Options boot it differently from then on (secure boot off, another kernel command line).
   */
  reboot(opts?: { secureBoot?: boolean; cmdline?: string }): Promise<void>;
  stop(): Promise<void>;
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** A stand-in UEFI boot application (shim): its hash is what a boot policy allows. */
export const SIM_BOOT_APPLICATION = Buffer.from('nodeward simulated BOOTX64.EFI v1\n');

export function bootLogSpec(cmdline: string, secureBoot: boolean): EventLogSpec {
  return {
    banks: BANK_NAMES,
    events: [
      { pcr: 0, type: EV.S_CRTM_VERSION, data: Buffer.from('1.0\0', 'utf16le') },
      secureBootEvent(secureBoot),
      ...[0, 1, 2, 3, 4, 5, 6, 7].map(separatorEvent),
      efiBootApplicationEvent(SIM_BOOT_APPLICATION),
      grubKernelCmdlineEvent(cmdline),
    ],
  };
}

/** Extends the boot log's digests into the TPM, event by event. */
async function replayIntoTpm(tpm: Swtpm, spec: EventLogSpec): Promise<void> {
  for (const m of eventLogMeasurements(spec)) {
    const digests = BANK_NAMES.map((b) => `${b}=${Buffer.from(m.digests[b]!).toString('hex')}`).join(',');
    await tpm2(tpm, 'tpm2_pcrextend', [`${m.pcr}:${digests}`]);
  }
}

/** The kernel's boot_aggregate for a sha256 IMA hash: sha256 over PCRs 0-9 of the sha256 bank. */
export function bootAggregate(pcrs: PcrValues<Hex, HashAlgName>): Buffer {
  const bank = pcrs.sha256 ?? {};
  return sha256(Buffer.concat(BOOT_PCRS.map((i) => Buffer.from(bank[String(i)] ?? '00'.repeat(32), 'hex'))));
}

/** Extends an IMA template's hash input into PCR 10, each bank with its own hash (kernel ≥ 5.8). */
async function extendPcr10(tpm: Swtpm, hashInput: Buffer): Promise<void> {
  const digests = BANK_NAMES.map((b) => `${b}=${createHash(b).update(hashInput).digest('hex')}`).join(',');
  await tpm2(tpm, 'tpm2_pcrextend', [`10:${digests}`]);
}

async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/**
 * `veritysetup format` over the fleet's image: the same content and salt on every node, as nodes
 * provisioned from one image are, so one allowed root hash fits them all. Root hash and salt come
 * from veritysetup's output.
 */
export async function formatVerityImage(dir: string, bytes = 2 << 20, imageSeed = 'nodeward fleet image v1'): Promise<VerityImage> {
  await mkdir(dir, { recursive: true });
  const dataImage = join(dir, 'data.img');
  const hashImage = join(dir, 'hash.img');
  await writeFile(dataImage, createHash('sha512').update(imageSeed).digest().toString('hex').repeat(Math.ceil(bytes / 128)).slice(0, bytes));
  const salt = createHash('sha256').update(imageSeed).digest('hex');
  const out = await runCommand('veritysetup', ['format', `--salt=${salt}`, dataImage, hashImage]);
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`veritysetup format printed no ${name}: ${out}`);
    return m[1]!;
  };
  return { dataImage, hashImage, rootHash: field('Root hash'), salt: field('Salt'), dataBlocks: Number(field('Data blocks')) };
}

function dmsetupTable(v: VerityImage): string {
  const sectors = v.dataBlocks * 8;
  return `${VERITY_DEVICE}: 0 ${sectors} verity 1 /dev/loop0 /dev/loop1 4096 4096 ${v.dataBlocks} 1 sha256 ${v.rootHash} ${v.salt}\n`;
}

function dmsetupStatus(v: VerityImage, ok: boolean): string {
  return `${VERITY_DEVICE}: 0 ${v.dataBlocks * 8} verity ${ok ? 'V' : 'C'}\n`;
}

/** Flips (xor 0xff) the byte at 4096 of the data image: applying it twice restores the image. */
async function flipDataByte(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 4096);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 4096);
  } finally {
    await fh.close();
  }
}

async function verityVerifies(v: VerityImage): Promise<boolean> {
  return runCommand('veritysetup', ['verify', v.dataImage, v.hashImage, v.rootHash]).then(() => true, () => false);
}

export async function prepareSimNode(opts: SimNodeOptions): Promise<SimNode> {
  const dir = join(opts.baseDir, opts.name);
  const hostRoot = join(dir, 'root');
  const at = (p: string): string => join(hostRoot, p);
  const verity = await formatVerityImage(join(dir, 'verity'), opts.verityImageBytes);
  const cmdlineFor = (params: string | undefined): string =>
    `BOOT_IMAGE=/vmlinuz ${params ?? `root=/dev/mapper/${VERITY_DEVICE} ro ima_policy=tcb`} roothash=${verity.rootHash}`;
  const kernelCmdline = cmdlineFor(opts.cmdline);
  let spec = bootLogSpec(kernelCmdline, opts.secureBoot ?? true);
  const swtpm = await startSwtpm({ ca: opts.ca, stateDir: join(dir, 'tpm'), host: opts.ip });
  let imaCount = 0;
  let tampered = false;
  let chain: Promise<unknown> = Promise.resolve();
  /** One sim operation at a time: a log line and its PCR extension stay together. */
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const r = chain.then(job);
    chain = r.catch(() => undefined);
    return r;
  };

  const boot = async (): Promise<void> => {
    await replayIntoTpm(swtpm, spec);
    await writeFileAtomic(at(BOOT_LOG_PATH), encodeEventLog(spec));
    const agg = encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: bootAggregate(eventLogPcrs(spec)), fileDigestAlg: 'sha256' });
    await writeFileAtomic(at(IMA_PATH), agg.bytes);
    await extendPcr10(swtpm, agg.hashInput);
    imaCount = 1;
  };

  try {
    await mkdir(at('var/lib/nodeward'), { recursive: true });
    await boot();
    await writeFileAtomic(at(VERITY_TABLE_PATH), dmsetupTable(verity));
    await writeFileAtomic(at(VERITY_STATUS_PATH), dmsetupStatus(verity, await verityVerifies(verity)));
  } catch (e) {
    await swtpm.stop();
    throw e;
  }

  return {
    name: opts.name, ip: opts.ip, dir, hostRoot, swtpm, tcti: swtpm.tcti, verity, kernelCmdline,
    bootLog: () => readFile(at(BOOT_LOG_PATH)),
    bootPcrs: () => eventLogPcrs(spec),
    imaEntryCount: () => imaCount,
    appendImaFile: (path, contents) => serial(async () => {
      const fileDigest = sha256(typeof contents === 'string' ? Buffer.from(contents) : contents);
      const e = encodeImaNgEntry({ path, fileDigest, fileDigestAlg: 'sha256' });
      await appendFile(at(IMA_PATH), e.bytes);
      await extendPcr10(swtpm, e.hashInput);
      imaCount++;
      return { templateHash: e.templateHash.toString('hex'), fileDigest: fileDigest.toString('hex') };
    }),
    setVerityCorrupted: (corrupted) => serial(async () => {
      if (corrupted !== tampered) await flipDataByte(verity.dataImage);
      tampered = corrupted;
      await writeFileAtomic(at(VERITY_STATUS_PATH), dmsetupStatus(verity, await verityVerifies(verity)));
    }),
    reboot: (next) => serial(async () => {
      if (next !== undefined) {
        // A command line given whole replaces everything, root hash included (a different kernel/image).
        spec = bootLogSpec(next.cmdline !== undefined ? `BOOT_IMAGE=/vmlinuz ${next.cmdline}` : kernelCmdline, next.secureBoot ?? true);
      }
      // An orderly TPM2_Shutdown(CLEAR), as a rebooting OS does (the default, STATE, is a suspend: the next
      // start would be a resume, not a reset). A TPM powered off without it counts that
      // against dictionary-attack protection, and after a few such reboots locks the AK out (0x921).
      await tpm2(swtpm, 'tpm2_shutdown', ['--clear']);
      await swtpm.reboot();
      await boot();
    }),
    stop: () => serial(() => swtpm.stop()),
  };
}
