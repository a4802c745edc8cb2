import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './run-command.js';

/**
 * IMA signatures of file digests made by evmctl (ima-evm-utils), the tool that signs files for IMA
 * appraisal: `evmctl sign_hash` reads `<hex digest> <name>` lines and prints `<hex digest> <name>
 * <hex signature>`. The private key (PEM) is written to `dir/<name>.pem`. Extra arguments go to
 * evmctl as given (e.g. `--keyid-from-cert FILE`).
 */
export async function evmctlSignDigests(o: { dir: string; name: string; keyPem: string; alg: string; digests: readonly Buffer[]; args?: readonly string[] }): Promise<Buffer[]> {
  const keyFile = join(o.dir, `${o.name}.pem`);
  await writeFile(keyFile, o.keyPem, { mode: 0o600 });
  const out = await runCommand('evmctl', ['sign_hash', '--key', keyFile, '-a', o.alg, ...(o.args ?? [])], { input: o.digests.map((d, i) => `${d.toString('hex')} f${i}\n`).join('') });
  const sigs = out.trim().split('\n').map((line) => Buffer.from(line.split(' ')[2] ?? '', 'hex'));
  if (sigs.length !== o.digests.length || sigs.some((s) => s.length === 0)) throw new Error(`evmctl sign_hash printed ${sigs.length} signatures for ${o.digests.length} digests: ${out.slice(0, 200)}`);
  return sigs;
}
