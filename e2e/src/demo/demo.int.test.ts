import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo-root.js';

/** `make demo CI=true` runs the whole story non-interactively and exits 0 only if every step happened. */
describe('make demo (CI mode)', () => {
  it('plays the attack story end to end and tears everything down', async () => {
    const child = spawn(process.execPath, [join(repoRoot(), 'e2e/dist/demo/main.js')], { env: { ...process.env, CI: 'true' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, tail: out.slice(-2000) }).toMatchObject({ code: 0 });
    for (const step of ['node-1 Trusted', 'node-2 Untrusted after', 'tainted attestation.nodeward.io/untrusted:NoSchedule and cordoned',
      'credential revoked', 'node-1 and node-3 stayed Trusted', 'node-2 Trusted again', 'every step happened']) {
      expect(out).toContain(step);
    }
    expect(out).toMatch(/AttestationFailed\s+Node\/node-2\s+ima\.path_not_in_policy/);
  }, 300_000);
});
