import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs bench/keylime/keylime_bench.py (Keylime's own verifier code, in its venv) and reads its JSON line. */

export interface KeylimeResult { what: string; seconds: number; count: number; entries?: number; ok: boolean; failures?: string[] }

const dir = fileURLToPath(new URL('../keylime/', import.meta.url));

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.slice(0, 2).join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

let python: Promise<string> | undefined;

/** The venv's python (created on first use by setup.sh, cached under NODEWARD_CACHE_DIR). */
export function keylimePython(): Promise<string> {
  python ??= run('bash', [`${dir}setup.sh`]).then((out) => out.trim());
  return python;
}

export async function keylime(mode: 'ima' | 'quote' | 'round' | 'verifier-round', args: (string | number)[]): Promise<KeylimeResult> {
  const out = await run(await keylimePython(), [`${dir}keylime_bench.py`, mode, ...args.map(String)]);
  return JSON.parse(out) as KeylimeResult;
}
