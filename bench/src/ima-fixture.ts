import { createHash } from 'node:crypto';
import { createRuntimePolicy, parseImaBinaryLog, type RuntimePolicy } from '@nodeward/attest';
import { encodeImaNgEntry, type EncodedImaEntry } from '@nodeward/attest/testing';
import { seededRandom as prng } from '@nodeward/attest/testing';

/**
 * A synthetic but realistic IMA list: ima-ng entries (sha256 file digests of generated contents,
 * sha1 template hashes as the kernel's default), paths shaped like a Debian host's, a boot_aggregate
 * first, and some files under excluded directories. The same entries as binary_runtime_measurements
 * and as ascii_runtime_measurements.
 */

export interface ImaFixture {
  entries: EncodedImaEntry[];
  binary: Buffer;
  ascii: string;
  /** Allows every entry outside the excluded directories, plus EXCLUDES. */
  policy: RuntimePolicy;
}

export const EXCLUDES = ['/tmp/.*', '/var/log/.*', '/run/user/.*', '/proc/.*', '/var/lib/kubelet/pods/.*/volumes/.*'];

const DIRS = [
  '/usr/bin', '/usr/sbin', '/usr/lib/x86_64-linux-gnu', '/usr/lib/python3/dist-packages/pkg', '/usr/share/perl5',
  '/usr/libexec', '/etc/systemd/system', '/usr/lib/modules/6.1.0-27-amd64/kernel/drivers/net', '/opt/containerd/bin',
  '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/42/fs/usr/lib',
];
const STEMS = ['libssl', 'libcrypto', 'libgio-2.0', 'python3', 'systemd-udevd', 'containerd-shim', 'kubelet', 'bash', 'libz', 'libc'];
const EXTS = ['.so.3', '.so.0.7400.6', '', '.py', '.ko', '.service', '.pm', '.so.1'];
const EXCLUDED = ['/tmp/tmp.', '/var/log/journal/', '/run/user/1000/'];


const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function contents(r: () => number, path: string): Buffer {
  const b = Buffer.alloc(64 + Math.floor(r() * 448));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  return Buffer.concat([Buffer.from(path), b]);
}

function pathFor(r: () => number, i: number): string {
  if (i % 50 === 49) return `${pick(r, EXCLUDED)}${i.toString(36)}`;
  return `${pick(r, DIRS)}/${pick(r, STEMS)}-${i.toString(36)}${pick(r, EXTS)}`;
}

/** One entry as ascii_runtime_measurements shows it: `10 <template hash> ima-ng sha256:<digest> <path>`. */
export function imaAsciiLine(e: EncodedImaEntry, path: string, fileDigest: Uint8Array): string {
  return `10 ${e.templateHash.toString('hex')} ima-ng sha256:${Buffer.from(fileDigest).toString('hex')} ${path}`;
}

export interface Measured { path: string; digest: Buffer }

export function measuredFiles(count: number, seed = 1): Measured[] {
  const r = prng(seed);
  const bootAggregate = createHash('sha256').update('nodeward bench boot PCRs').digest();
  const out: Measured[] = [{ path: 'boot_aggregate', digest: bootAggregate }];
  for (let i = 1; i < count; i++) {
    const path = pathFor(r, i);
    out.push({ path, digest: createHash('sha256').update(contents(r, path)).digest() });
  }
  return out;
}

export function encodeLog(files: readonly Measured[]): Omit<ImaFixture, 'policy'> {
  const entries = files.map((f) => encodeImaNgEntry({ path: f.path, fileDigest: f.digest, fileDigestAlg: 'sha256' }));
  const ascii = files.map((f, i) => imaAsciiLine(entries[i]!, f.path, f.digest)).join('\n') + '\n';
  return { entries, binary: Buffer.concat(entries.map((e) => e.bytes)), ascii };
}

export function imaFixture(count: number): ImaFixture {
  const log = encodeLog(measuredFiles(count));
  const isExcluded = (p: string): boolean => EXCLUDED.some((d) => p.startsWith(d));
  const policy = createRuntimePolicy(parseImaBinaryLog(log.binary).filter((e) => !isExcluded(e.name)));
  return { ...log, policy: { ...policy, excludes: EXCLUDES } };
}

/** PCR 10 after the first `count` entries, computed independently of attest/: new = H(old ‖ H(template data)). */
export function pcr10After(entries: readonly EncodedImaEntry[], bank: 'sha1' | 'sha256', count = entries.length): string {
  let pcr = Buffer.alloc(bank === 'sha1' ? 20 : 32);
  for (let i = 0; i < count; i++) {
    const d = createHash(bank).update(entries[i]!.hashInput).digest();
    pcr = createHash(bank).update(pcr).update(d).digest();
  }
  return pcr.toString('hex');
}
