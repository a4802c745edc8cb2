import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the image's own config says to run: a root filesystem and the OCI runtime process umoci derived from it. */
export interface UnpackedImage {
  readonly rootfs: string;
  /** Entrypoint + Cmd, as the image config gives them. */
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
}

interface RuntimeSpec {
  process: { args: string[]; env?: string[]; cwd: string; user: { uid: number; gid: number } };
  root: { path: string };
}

/** Unpacks an OCI archive (`oci-archive:` layout) with umoci, which checks every blob's digest on the way. */
export async function unpackImage(archive: string, dir: string, ref: string): Promise<UnpackedImage> {
  const layout = join(dir, 'layout');
  await mkdir(layout, { recursive: true });
  await run('tar', ['-xf', archive, '-C', layout]);
  await run('umoci', ['unpack', '--image', `${layout}:${ref}`, join(dir, 'bundle')]);
  const spec = JSON.parse(await readFile(join(dir, 'bundle/config.json'), 'utf8')) as RuntimeSpec;
  return {
    rootfs: join(dir, 'bundle', spec.root.path), args: spec.process.args, env: spec.process.env ?? [],
    cwd: spec.process.cwd, uid: spec.process.user.uid, gid: spec.process.user.gid,
  };
}

export interface Bind {
  /** Host path (file or directory). */
  readonly source: string;
  /** Path inside the image. */
  readonly target: string;
  readonly readOnly?: boolean;
  readonly file?: boolean;
}

/**
 * The command line that runs `image` as a container would, with what the harness has on the host (no
 * OCI runtime: crun refuses this machine's hybrid cgroup hierarchy): a new mount namespace,
 * the host network (as the DaemonSet and the harness's loopback addresses need), the image's root read-only
 * with `binds` and a tmpfs /tmp, the image's user, working directory, environment plus `env`, and its
 * Entrypoint + Cmd followed by `args` (an image with an Entrypoint and no Cmd, like the agent's, takes
 * its flags as Kubernetes `args` give them); `command` replaces Entrypoint + Cmd. Nothing from the host's filesystem is visible
 * but the binds: a file, library or permission missing from the image fails the process.
 */
export function containerCommand(image: UnpackedImage, opts: { binds: readonly Bind[]; env: Record<string, string>; args?: readonly string[]; command?: readonly string[] }): { command: string; args: string[] } {
  const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  const r = image.rootfs;
  const lines = ['set -e', `mount --bind ${q(r)} ${q(r)}`];
  for (const b of opts.binds) {
    const target = r + b.target;
    lines.push(b.file === true ? `mkdir -p "$(dirname ${q(target)})" && touch ${q(target)}` : `mkdir -p ${q(target)}`);
    lines.push(`mount --bind ${q(b.source)} ${q(target)}`);
    if (b.readOnly === true) lines.push(`mount -o remount,bind,ro ${q(target)}`);
  }
  lines.push(`mount -o remount,bind,ro ${q(r)}`, `mount -t proc proc ${q(`${r}/proc`)}`, `mount -t tmpfs -o mode=1777 tmpfs ${q(`${r}/tmp`)}`);
  const env = [...image.env, ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)];
  const argv = [...(opts.command ?? image.args), ...(opts.args ?? [])];
  lines.push(['exec env -i', ...env.map(q), 'unshare', `--root=${q(r)}`, `--wd=${q(image.cwd)}`, `--setuid=${image.uid}`, `--setgid=${image.gid}`, '--', ...argv.map(q)].join(' '));
  return { command: 'unshare', args: ['--mount', '--propagation', 'private', '--fork', '--kill-child=SIGTERM', '--', '/bin/sh', '-c', lines.join('\n')] };
}
