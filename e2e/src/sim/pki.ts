import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { runCommand } from './run-command.js';

/**
 * A test PKI for the agent API's mutual TLS, made with the openssl CLI (ECDSA P-256):
 * - the operator client CA (agents trust it) and the operator's client certificate (CN nodeward-operator);
 * - the agent serving CA (the operator trusts it) and one serving certificate per node IP.
 */

export interface TlsPair {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  cn: string;
  usage: 'server' | 'client';
  /** SANs: IP addresses and DNS names (mixed). */
  sans?: string[];
}

export interface TestCa extends TlsPair {
  dir: string;
  issue(opts: IssueOptions): Promise<TlsPair>;
}

export interface MtlsPki {
  /** Issues the operator's client certificates; its certificate is the agents' `clientCaPem`. */
  operatorCa: TestCa;
  /** Issues agent serving certificates; the operator's trust anchor for agents. */
  agentCa: TestCa;
  /** CN nodeward-operator, clientAuth. */
  operatorClient: TlsPair;
  /** A serving certificate for an agent at this IP (SAN IP and DNS `name` when given). */
  agentServerCert(ip: string, name?: string): Promise<TlsPair>;
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function sanList(sans: string[]): string {
  return sans.map((s) => (isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(',');
}

/** A self-signed CA in `dir` (created). */
export async function createTestCa(dir: string, cn: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  await runCommand('openssl', ['req', '-x509', ...KEY_ARGS, '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let serial = 0;
  const issue = async (o: IssueOptions): Promise<TlsPair> => {
    const base = join(dir, `${++serial}-${safe(o.cn)}`);
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      `extendedKeyUsage=${o.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      ...(o.sans && o.sans.length > 0 ? [`subjectAltName=${sanList(o.sans)}`] : []),
    ];
    await runCommand('openssl', ['req', '-x509', ...KEY_ARGS, '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '30',
      '-subj', `/CN=${o.cn}`, '-CA', cert, '-CAkey', key, ...ext.flatMap((e) => ['-addext', e])]);
    return { certPem: await readFile(`${base}.crt`, 'utf8'), keyPem: await readFile(`${base}.key`, 'utf8') };
  };
  return { dir, certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8'), issue };
}

export async function createMtlsPki(dir: string, operatorIdentity = 'nodeward-operator'): Promise<MtlsPki> {
  const operatorCa = await createTestCa(join(dir, 'operator-ca'), 'nodeward operator client CA');
  const agentCa = await createTestCa(join(dir, 'agent-ca'), 'nodeward agent serving CA');
  const operatorClient = await operatorCa.issue({ cn: operatorIdentity, usage: 'client' });
  await writeFile(join(dir, 'README'), 'Test PKI for the agent API. Not for production.\n');
  return {
    operatorCa, agentCa, operatorClient,
    agentServerCert: (ip, name) => agentCa.issue({ cn: name ?? ip, usage: 'server', sans: [ip, ...(name ? [name] : [])] }),
  };
}
