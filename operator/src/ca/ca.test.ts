import * as x509 from '@peculiar/x509';
import { spawnSync } from 'node:child_process';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AK_NAME_OID, AK_NAME_OID_DER, akNameOf, buildCrl, crlEntries, crlNeedsResigning, generateCa, issueNodeCredential, loadCa } from './ca.js';

const now = new Date();
const akName = '000b' + 'ab'.repeat(32);

describe('CA', () => {
  it('uses an OID under 2.25 from the fixed UUID', () => {
    expect(AK_NAME_OID).toBe('2.25.147690556246780528579659916056767603955');
    expect(AK_NAME_OID_DER.toString('hex')).toBe('06146981de9c95a7c9b7eab8f59cac8ba1b7f386c973');
  });

  it('issues a node credential with SAN, AK extension, chaining to the CA', async () => {
    const ca = await loadCa(await generateCa('nodeward-ca', now));
    const cred = await issueNodeCredential(ca, { nodeName: 'worker-1', akName, now, ttlMs: 3_600_000 });
    const cert = new x509.X509Certificate(cred.certificatePem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.toJSON()).toEqual([{ type: 'dns', value: 'worker-1' }]);
    expect(akNameOf(cert)).toBe(akName);
    expect(cert.serialNumber.toLowerCase()).toBe(cred.serial);
    expect(cert.issuer).toBe(ca.cert.subject);
    expect(await cert.verify({ publicKey: ca.cert.publicKey, date: now })).toBe(true);
    expect(cred.notAfter.getTime() - now.getTime()).toBe(3_600_000);
    const chain = await new x509.X509ChainBuilder({ certificates: [ca.cert] }).build(cert);
    expect(chain.map((c) => c.subject)).toEqual(['CN=worker-1', 'CN=nodeward-ca']);
    expect(cred.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    // An independent implementation (OpenSSL via node:crypto) agrees the signature and SAN are good.
    const nodeCert = new NodeX509(cred.certificatePem);
    expect(nodeCert.verify(new NodeX509(ca.certPem).publicKey)).toBe(true);
    expect(nodeCert.subjectAltName).toBe('DNS:worker-1');
    expect(nodeCert.checkIssued(new NodeX509(ca.certPem))).toBe(true);
    // The real OID (full 128-bit arc) is in the DER exactly once.
    const der = Buffer.from(cert.rawData);
    expect(der.indexOf(AK_NAME_OID_DER)).toBeGreaterThan(0);
    expect(der.indexOf(AK_NAME_OID_DER, der.indexOf(AK_NAME_OID_DER) + 1)).toBe(-1);
    // Signed by another CA: does not verify.
    const other = await loadCa(await generateCa('other', now));
    expect(await cert.verify({ publicKey: other.cert.publicKey, date: now })).toBe(false);
  });

  it('builds a CRL listing revoked serials (deduplicated) that verifies against the CA', async () => {
    const ca = await loadCa(await generateCa('nodeward-ca', now));
    const cred = await issueNodeCredential(ca, { nodeName: 'w', akName, now, ttlMs: 60_000 });
    const pem = await buildCrl(ca, [{ serial: cred.serial, revokedAt: now }, { serial: cred.serial.toUpperCase(), revokedAt: now }], now, 3_600_000);
    const crl = new x509.X509Crl(pem);
    expect(await crl.verify({ publicKey: ca.cert.publicKey })).toBe(true);
    expect(crlEntries(pem).map((e) => e.serial)).toEqual([cred.serial]);
    expect(crl.findRevoked(new x509.X509Certificate(cred.certificatePem))).not.toBeNull();
    const empty = await buildCrl(ca, [], now, 1000);
    expect(crlEntries(empty)).toEqual([]);
  });

  it('writes a CRL OpenSSL reads (PEM label X509 CRL) and that revokes only the listed certificate', async () => {
    const m = await generateCa('nodeward-ca', now);
    const ca = await loadCa(m);
    const revoked = await issueNodeCredential(ca, { nodeName: 'bad', akName, now, ttlMs: 3_600_000 });
    const good = await issueNodeCredential(ca, { nodeName: 'good', akName, now, ttlMs: 3_600_000 });
    const pem = await buildCrl(ca, [{ serial: revoked.serial, revokedAt: now }], now, 3_600_000);
    expect(pem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'nodeward-crl-'));
    try {
      const files = { 'ca.pem': m.certPem, 'crl.pem': pem, 'revoked.pem': revoked.certificatePem, 'good.pem': good.certificatePem };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      const openssl = (args: string[]): { status: number | null; out: string } => {
        const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
        return { status: r.status, out: r.stdout + r.stderr };
      };
      const text = openssl(['crl', '-in', 'crl.pem', '-noout', '-text']);
      expect(text.status).toBe(0);
      expect(text.out).toContain('Certificate Revocation List (CRL)');
      expect(text.out).toContain('Issuer: CN = nodeward-ca');
      expect(text.out.toLowerCase().replace(/[^0-9a-z]/g, '')).toContain(`serialnumber${revoked.serial}`);
      expect(text.out).toContain('Privilege Withdrawn');
      const verify = (cert: string): { status: number | null; out: string } =>
        openssl(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'crl.pem', cert]);
      expect(verify('good.pem')).toEqual({ status: 0, out: 'good.pem: OK\n' });
      const bad = verify('revoked.pem');
      expect(bad.status).not.toBe(0);
      expect(bad.out).toContain('certificate revoked');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asks for a CRL to be re-signed once half its lifetime has passed, and at once for a legacy label', async () => {
    const ca = await loadCa(await generateCa('nodeward-ca', now));
    const pem = await buildCrl(ca, [], now, 600_000);
    const at = (ms: number): Date => new Date(now.getTime() + ms);
    expect(crlNeedsResigning(pem, at(0))).toBe(false);
    expect(crlNeedsResigning(pem, at(299_000))).toBe(false);
    expect(crlNeedsResigning(pem, at(300_000))).toBe(true);
    expect(crlNeedsResigning(pem.replace(/X509 CRL/g, 'CRL'), at(0))).toBe(true);
    expect(crlNeedsResigning('-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n', at(0))).toBe(true);
  });

  it('round-trips the CA material', async () => {
    const m = await generateCa('nodeward-ca', now);
    const ca = await loadCa(m);
    expect(ca.cert.subject).toBe('CN=nodeward-ca');
    expect(ca.cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
  });
});
