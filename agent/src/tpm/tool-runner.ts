import { execFile } from 'node:child_process';
import { TpmError } from './tpm-error.js';

export interface ToolResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs one tpm2-tools command against the configured TCTI; failures become TpmError (stderr's last line). */
export type ToolRunner = (tool: string, args: string[]) => Promise<ToolResult>;

export function toolRunner(tcti: string, cwd: string, timeoutMs = 30_000): ToolRunner {
  const env = { ...process.env, TPM2TOOLS_TCTI: tcti };
  return (tool, args) => new Promise((resolve, reject) => {
    execFile(tool, args, { cwd, env, encoding: 'buffer', maxBuffer: 16 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      const errText = stderr.toString();
      if (!err) { resolve({ stdout, stderr: errText }); return; }
      const lines = errText.trim().split('\n').filter((l) => l.startsWith('ERROR'));
      reject(new TpmError(tool, lines.slice(-2).join(' | ') || err.message));
    });
  });
}
