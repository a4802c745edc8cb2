import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePortPair } from './free-port.js';
import { trackChild, trackTempDir, untrackTempDir } from '../harness/process-registry.js';

/**
 * A software TPM per simulated node: swtpm with its state authored by swtpm_setup, so it holds real
 * RSA and ECC EKs and EK certificates issued by a local CA (the stand-in for a TPM manufacturer).
 */

export interface SwtpmCa {
  dir: string;
  /** swtpm_setup configuration pointing at this CA. */
  setupConfig: string;
  /** Root and intermediate (issuer) certificates: the EK trust anchors a policy would name. */
  rootCertPem: string;
  issuerCertPem: string;
}

export interface Swtpm {
  host: string;
  port: number;
  ctrlPort: number;
  stateDir: string;
  /** TCTI string for tpm2-tools (TPM2TOOLS_TCTI) and tss2 libraries. */
  tcti: string;
  pid(): number | undefined;
  /** Power-cycle: stops the emulator and starts it on the same state (PCRs reset, resetCount + 1). */
  reboot(): Promise<void>;
  stop(): Promise<void>;
}

const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: Buffer; stderr: string }> =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.toString().trim() || err.message}`));
      else resolve({ stdout, stderr: stderr.toString() });
    });
  });

/** Creates a local CA directory; the first swtpm_setup that uses it generates the root and issuer keys. */
export async function createSwtpmCa(dir: string): Promise<Omit<SwtpmCa, 'rootCertPem' | 'issuerCertPem'>> {
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'localca.conf');
  await writeFile(conf, ['statedir', 'signingkey', 'issuercert', 'certserial']
    .map((k) => `${k} = ${join(dir, { statedir: '', signingkey: 'signkey.pem', issuercert: 'issuercert.pem', certserial: 'certserial' }[k]!)}`)
    .join('\n') + '\n');
  const opts = join(dir, 'localca.options');
  await writeFile(opts, '--platform-manufacturer Nodeward\n--platform-version 2.1\n--platform-model swtpm\n');
  const setupConfig = join(dir, 'swtpm_setup.conf');
  await writeFile(setupConfig, [
    'create_certs_tool = /usr/bin/swtpm_localca',
    `create_certs_tool_config = ${conf}`,
    `create_certs_tool_options = ${opts}`,
    'active_pcr_banks = sha1,sha256,sha384',
  ].join('\n') + '\n');
  return { dir, setupConfig };
}

export async function readSwtpmCa(ca: Omit<SwtpmCa, 'rootCertPem' | 'issuerCertPem'>): Promise<SwtpmCa> {
  return {
    ...ca,
    rootCertPem: await readFile(join(ca.dir, 'swtpm-localca-rootca-cert.pem'), 'utf8'),
    issuerCertPem: await readFile(join(ca.dir, 'issuercert.pem'), 'utf8'),
  };
}

/** Authors a TPM 2.0 state with RSA + ECC EKs and their certificates, PCR banks sha1/sha256/sha384. */
export async function manufactureTpm(ca: { setupConfig: string }, stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await run('swtpm_setup', ['--tpm2', '--tpmstate', stateDir, '--create-ek-cert', '--create-platform-cert',
    '--pcr-banks', 'sha1,sha256,sha384', '--config', ca.setupConfig, '--overwrite']);
}

async function waitForPort(host: string, port: number, child: ChildProcess): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`swtpm did not listen on ${host}:${port}`);
}

async function launch(stateDir: string, host: string, port: number, ctrlPort: number): Promise<ChildProcess> {
  const child = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${stateDir}`,
    '--server', `type=tcp,port=${port},bindaddr=${host}`, '--ctrl', `type=tcp,port=${ctrlPort},bindaddr=${host}`,
    '--flags', 'not-need-init,startup-clear'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  // Detached, so nothing kills it with us: the registry does, even when a signal ends this process
  // before an async stop() could (make demo-down ends the demo by SIGTERM).
  trackChild(child);
  child.stderr?.resume();
  await waitForPort(host, port, child);
  return child;
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Manufactures (when the state dir is new) and starts an swtpm on free loopback ports. */
export async function startSwtpm(opts: { ca: { setupConfig: string }; stateDir: string; host?: string; manufacture?: boolean }): Promise<Swtpm> {
  const host = opts.host ?? '127.0.0.1';
  // The TPM state goes if this process ends (or is killed: the reaper) before stop(), unless kept for debugging.
  if (process.env['NODEWARD_KEEP_TESTENV'] !== '1') trackTempDir(opts.stateDir);
  if (opts.manufacture !== false) await manufactureTpm(opts.ca, opts.stateDir);
  const port = await freePortPair(host);
  const ctrlPort = port + 1;
  let child: ChildProcess | undefined = await launch(opts.stateDir, host, port, ctrlPort);
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    await terminate(c);
  };
  return {
    host, port, ctrlPort, stateDir: opts.stateDir,
    tcti: `swtpm:host=${host},port=${port}`,
    pid: () => child?.pid,
    stop: async () => {
      await stop();
      untrackTempDir(opts.stateDir); // stopped on purpose: the caller owns the state from here
    },
    reboot: async () => {
      await stop();
      child = await launch(opts.stateDir, host, port, ctrlPort);
    },
  };
}

/** Runs a tpm2-tools command against this TPM; rejects with the tool's stderr on failure. */
export function tpm2(tpm: Pick<Swtpm, 'tcti'>, tool: string, args: string[], cwd?: string): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { cwd, env: { ...process.env, TPM2TOOLS_TCTI: tpm.tcti }, encoding: 'buffer', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${tool} ${args.join(' ')}: ${stderr.toString().trim() || err.message}`));
        else resolve({ stdout, stderr: stderr.toString() });
      });
  });
}
