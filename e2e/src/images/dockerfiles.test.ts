import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo-root.js';

interface ImageSpec { name: string; user: string; workingDir: string; env: string[]; entrypoint: string[]; cmd: string[] }

/** The final stage of a Dockerfile as the image config it produces, and the rootfs.sh call of its build stage. */
function dockerfileImage(text: string): { rootfsCall: string | undefined; base: string | undefined; user?: string; workingDir?: string; env: string[]; entrypoint: string[]; cmd: string[] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const stages = lines.join('\n').split(/^FROM /m).slice(1).map((s) => `FROM ${s}`.split('\n'));
  const last = stages.at(-1) ?? [];
  const value = (kw: string): string | undefined => last.find((l) => l.startsWith(`${kw} `))?.slice(kw.length + 1);
  const exec = (kw: string): string[] => { const v = value(kw); return v === undefined ? [] : (JSON.parse(v) as string[]); };
  return {
    rootfsCall: /bash \/src\/images\/rootfs\.sh (\S+ \S+)/.exec(text)?.[1],
    base: last[0],
    user: value('USER'), workingDir: value('WORKDIR'),
    env: last.filter((l) => l.startsWith('ENV ')).map((l) => l.slice(4)),
    entrypoint: exec('ENTRYPOINT'), cmd: exec('CMD'),
  };
}

describe('images/*/Dockerfile: the same image as `make images`', () => {
  it.each(['operator', 'agent'])('%s: same root filesystem script, the rootfs alone on scratch, the same config', async (name) => {
    const spec = JSON.parse(await readFile(join(repoRoot(), 'images', name, 'image.json'), 'utf8')) as ImageSpec;
    const docker = dockerfileImage(await readFile(join(repoRoot(), 'images', name, 'Dockerfile'), 'utf8'));
    expect(docker).toEqual({
      rootfsCall: `${name} /rootfs`, base: 'FROM scratch',
      user: spec.user, workingDir: spec.workingDir, env: spec.env, entrypoint: spec.entrypoint, cmd: spec.cmd,
    });
  });

  it('reads a drifted Dockerfile as different', () => {
    const d = dockerfileImage('FROM debian AS rootfs\nRUN bash /src/images/rootfs.sh operator /rootfs\nFROM scratch\nUSER 0:0\nCMD ["node"]\n');
    expect(d.user).toBe('0:0');
    expect(d.cmd).toEqual(['node']);
  });
});
