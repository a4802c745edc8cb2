import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Test-only: a throwaway PKI made with the openssl CLI (EC P-256). */
export interface PemPair { cert: string; key: string }

export class OpensslPki {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'nodeward-pki-'));

  /** A self-signed CA. */
  ca(name: string): PemPair {
    const key = this.key(name);
    this.run(['req', '-x509', '-new', '-key', key, '-subj', `/CN=${name}`, '-days', '2', '-out', this.file(`${name}.crt`),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    return this.pair(name);
  }

  /** A leaf signed by `issuer`, with SANs (may be empty; IP addresses, anything else a DNS name) and an extended key usage. */
  leaf(name: string, issuer: string, ips: string[], usage: 'serverAuth' | 'clientAuth'): PemPair {
    const key = this.key(name);
    const ext = this.file(`${name}.ext`);
    const lines = [`extendedKeyUsage=${usage}`, 'basicConstraints=CA:FALSE'];
    if (ips.length > 0) lines.push(`subjectAltName=${ips.map((san) => (isIP(san) ? `IP:${san}` : `DNS:${san}`)).join(',')}`);
    writeFileSync(ext, lines.join('\n') + '\n');
    this.run(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', this.file(`${name}.csr`)]);
    this.run(['x509', '-req', '-in', this.file(`${name}.csr`), '-CA', this.file(`${issuer}.crt`), '-CAkey', this.file(`${issuer}.key`),
      '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', this.file(`${name}.crt`)]);
    return this.pair(name);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private key(name: string): string {
    const file = this.file(`${name}.key`);
    this.run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
    return file;
  }

  private pair(name: string): PemPair {
    return { cert: readFileSync(this.file(`${name}.crt`), 'utf8'), key: readFileSync(this.file(`${name}.key`), 'utf8') };
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private run(args: string[]): void {
    execFileSync('openssl', args, { stdio: 'pipe' });
  }
}
