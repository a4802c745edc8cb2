import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicConstraintsExtension, ExtendedKeyUsageExtension, KeyUsageFlags, SubjectAlternativeNameExtension, KeyUsagesExtension, X509Certificate, X509CertificateGenerator } from '@peculiar/x509';
import { createSwtpmCa, readSwtpmCa, startSwtpm, tpm2, type Swtpm, type SwtpmCa } from '@nodeward/e2e/sim';
import { decodeCredentialFile, encodeCredentialFile } from './credential-file.js';
import { verifyEkCertificate, type EkCertificateInput } from './ek-certificate.js';
import { makeCredential } from './make-credential.js';
import { parsePublic } from './public.js';
import { ECC_CURVE, TPMA_OBJECT } from './constants.js';

/** EK certificates and credential activation against a real swtpm: the identity half of enrolment. */

let dir: string;
let tpm: Swtpm;
let ca: SwtpmCa;
let rsaCert: Buffer;
let eccCert: Buffer;
let rsaEkPub: Buffer;
let eccEkPub: Buffer;

async function run(tool: string, args: string[]): Promise<Buffer> {
  const { stdout } = await tpm2(tpm, tool, args, dir);
  await tpm2(tpm, 'tpm2_flushcontext', ['-t'], dir);
  return stdout;
}

/** A CA unrelated to swtpm's; with `subject` it impersonates another CA's name. */
async function otherCa(subject = 'CN=Unrelated TPM CA'): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: subject, notBefore: new Date('2020-01-01'), notAfter: new Date('2099-01-01'), keys, signingAlgorithm: alg,
    extensions: [new BasicConstraintsExtension(true, undefined, true), new KeyUsagesExtension(KeyUsageFlags.keyCertSign, true)],
  });
  return cert.toString('pem');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-identity-'));
  const ca0 = await createSwtpmCa(join(dir, 'ca'));
  tpm = await startSwtpm({ ca: ca0, stateDir: join(dir, 'tpm') });
  ca = await readSwtpmCa(ca0);
  rsaCert = await run('tpm2_nvread', ['0x1c00002']);
  eccCert = await run('tpm2_nvread', ['0x1c00016']);
  await run('tpm2_readpublic', ['-c', '0x81010001', '-o', 'ek-rsa.pub']);
  await run('tpm2_readpublic', ['-c', '0x81010016', '-o', 'ek-ecc.pub']);
  rsaEkPub = await readFile(join(dir, 'ek-rsa.pub'));
  eccEkPub = await readFile(join(dir, 'ek-ecc.pub'));
});

afterAll(async () => {
  await tpm?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('verifyEkCertificate with swtpm EK certificates', () => {
  const base = (over: Partial<EkCertificateInput> = {}): EkCertificateInput =>
    ({ ekCertDer: rsaCert, trustAnchorsPem: [ca.rootCertPem], intermediatesDer: [new X509Certificate(ca.issuerCertPem).rawData].map((d) => new Uint8Array(d)), ekPublic: rsaEkPub, ...over });

  it('parses the TPM-specific extensions (critical directoryName SAN, TCG EKU, subject directory attributes)', async () => {
    const cert = new X509Certificate(rsaCert);
    const types = cert.extensions.map((e) => `${e.type}${e.critical ? '!' : ''}`);
    // SAN (critical, TPM manufacturer/model/version as directoryName), EKU tcg-kp-EKCertificate, subjectDirectoryAttributes.
    expect(types).toEqual(expect.arrayContaining(['2.5.29.17!', '2.5.29.37', '2.5.29.9']));
    expect(cert.getExtension(SubjectAlternativeNameExtension)?.names.items[0]?.type).toBe('dn');
    expect(cert.getExtension(ExtendedKeyUsageExtension)?.usages).toEqual(['2.23.133.8.1']);
    expect((await verifyEkCertificate(base())).ok).toBe(true);
  });

  it.each([
    ['RSA EK, root anchor + issuer as intermediate', (): Partial<EkCertificateInput> => ({})],
    ['RSA EK, issuer as the anchor', (): Partial<EkCertificateInput> => ({ trustAnchorsPem: [ca.issuerCertPem], intermediatesDer: [] })],
    ['RSA EK, root and issuer in one PEM bundle', (): Partial<EkCertificateInput> => ({ trustAnchorsPem: [`${ca.rootCertPem}\n${ca.issuerCertPem}`], intermediatesDer: [] })],
  ])('accepts %s', async (_name, over) => {
    const v = await verifyEkCertificate(base(over()));
    expect(v.failures).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('accepts the P-384 ECC EK certificate for the ECC EK', async () => {
    expect(parsePublic(eccEkPub)).toMatchObject({ type: 'ecc', curveId: ECC_CURVE.NIST_P384 });
    const v = await verifyEkCertificate(base({ ekCertDer: eccCert, ekPublic: eccEkPub }));
    expect(v.failures).toEqual([]);
  });

  it('returns the SHA-256 fingerprint of the certificate DER', async () => {
    const v = await verifyEkCertificate(base());
    const expected = Buffer.from(await webcrypto.subtle.digest('SHA-256', rsaCert)).toString('hex');
    expect(v.fingerprintSha256).toBe(expected);
  });

  it('rejects a chain to an unrelated CA', async () => {
    const v = await verifyEkCertificate(base({ trustAnchorsPem: [await otherCa()], intermediatesDer: [] }));
    expect(v.failures.map((f) => f.id)).toEqual(['identity.ek_chain_untrusted']);
  });

  it('rejects a CA that only borrows the issuer name', async () => {
    const issuer = new X509Certificate(ca.issuerCertPem);
    const v = await verifyEkCertificate(base({ trustAnchorsPem: [await otherCa(issuer.subject)], intermediatesDer: [] }));
    expect(v.failures.map((f) => f.id)).toEqual(['identity.ek_chain_untrusted']);
  });

  it('rejects the issuer as an untrusted intermediate when no anchor is given', async () => {
    const v = await verifyEkCertificate(base({ trustAnchorsPem: [] }));
    expect(v.failures.map((f) => f.id)).toEqual(['identity.ek_chain_untrusted']);
  });

  it('rejects a certificate not yet valid', async () => {
    const v = await verifyEkCertificate(base({ now: new Date('2001-01-01') }));
    expect(v.failures.map((f) => f.id)).toContain('identity.ek_cert_expired');
  });

  it.each([
    ['the ECC EK against the RSA certificate', () => ({ ekPublic: eccEkPub })],
    ['the RSA EK against the ECC certificate', () => ({ ekCertDer: eccCert })],
  ])('reports key mismatch: %s', async (_name, over) => {
    const v = await verifyEkCertificate(base(over()));
    expect(v.failures.map((f) => f.id)).toEqual(['identity.ek_key_mismatch']);
  });

  it('reports garbage as malformed', async () => {
    const v = await verifyEkCertificate(base({ ekCertDer: Buffer.from('garbage') }));
    expect(v.failures.map((f) => f.id)).toEqual(['identity.ek_cert_malformed']);
  });
});

describe('makeCredential activated by a real tpm2_activatecredential', () => {
  /**
   * TCG-template EKs (adminWithPolicy, no userWithAuth) need PolicySecret(TPM_RH_ENDORSEMENT) in a policy
   * session; swtpm_setup's persistent high-range EK also has userWithAuth, so its empty password works.
   */
  async function activate(ek: string, ak: string, cred: Buffer, ekPublic?: Buffer): Promise<Buffer> {
    await writeFile(join(dir, 'cred.bin'), cred);
    const pub = ekPublic === undefined ? undefined : parsePublic(ekPublic);
    if (pub !== undefined && (pub.objectAttributes & TPMA_OBJECT.userWithAuth) !== 0) {
      await run('tpm2_activatecredential', ['-c', `${ak}.ctx`, '-C', ek, '-i', 'cred.bin', '-o', 'secret.out']);
      return readFile(join(dir, 'secret.out'));
    }
    await tpm2(tpm, 'tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx'], dir);
    try {
      await tpm2(tpm, 'tpm2_policysecret', ['-S', 'session.ctx', '-c', 'e'], dir);
      await run('tpm2_activatecredential', ['-c', `${ak}.ctx`, '-C', ek, '-i', 'cred.bin', '-o', 'secret.out', '-P', 'session:session.ctx']);
    } finally {
      await tpm2(tpm, 'tpm2_flushcontext', ['session.ctx'], dir);
    }
    return readFile(join(dir, 'secret.out'));
  }

  async function enrol(ekArgs: string[], ek: string, ak: string): Promise<{ ekPublic: Buffer; akName: Buffer }> {
    if (ekArgs.length > 0) await run('tpm2_createek', ekArgs);
    else await run('tpm2_readpublic', ['-c', ek, '-o', `${ak}-ek.pub`]);
    await run('tpm2_createak', ['-C', ek, '-c', `${ak}.ctx`, '-G', 'rsa', '-g', 'sha256', '-s', 'rsassa', '-u', `${ak}.pub`, '-n', `${ak}.name`, '-f', 'tss']);
    const ekFile = ekArgs.length > 0 ? ekArgs[ekArgs.indexOf('-u') + 1]! : `${ak}-ek.pub`;
    return { ekPublic: await readFile(join(dir, ekFile)), akName: await readFile(join(dir, `${ak}.name`)) };
  }

  it.each([
    ['RSA-2048 EK (tpm2_createek -G rsa)', ['-c', 'ek-rsa.ctx', '-G', 'rsa', '-u', 'ek-rsa-t.pub'], 'ek-rsa.ctx', 'ak-rsa'],
    ['ECC P-256 EK (tpm2_createek -G ecc)', ['-c', 'ek-ecc.ctx', '-G', 'ecc', '-u', 'ek-ecc-t.pub'], 'ek-ecc.ctx', 'ak-ecc'],
    ['persistent ECC P-384 EK of swtpm_setup (AES-256-CFB, SHA-384 nameAlg)', [], '0x81010016', 'ak-p384'],
  ])('%s releases the secret', async (_name, ekArgs, ek, ak) => {
    const { ekPublic, akName } = await enrol(ekArgs, ek, ak);
    const secret = randomBytes(32);
    const made = makeCredential({ ekPublic, akName, secret });
    expect(await activate(ek, ak, encodeCredentialFile(made), ekPublic)).toEqual(secret);
  });

  it('is refused by the TPM for another AK Name', async () => {
    const { ekPublic } = await enrol(['-c', 'ek-rsa.ctx', '-G', 'rsa', '-u', 'ek-rsa-t.pub'], 'ek-rsa.ctx', 'ak-a');
    const { akName: otherName } = await enrol([], 'ek-rsa.ctx', 'ak-b');
    const made = makeCredential({ ekPublic, akName: otherName, secret: randomBytes(16) });
    await expect(activate('ek-rsa.ctx', 'ak-a', encodeCredentialFile(made))).rejects.toThrow(/integrity/i);
  });

  it('encodes the file format tpm2_makecredential writes', async () => {
    const { ekPublic, akName } = await enrol(['-c', 'ek-rsa.ctx', '-G', 'rsa', '-u', 'ek-rsa-t.pub'], 'ek-rsa.ctx', 'ak-rsa');
    await writeFile(join(dir, 'secret.in'), 'sixteen byte sec');
    await run('tpm2_makecredential', ['-T', 'none', '-u', 'ek-rsa-t.pub', '-s', 'secret.in', '-n', akName.toString('hex'), '-o', 'ref.cred']);
    const ref = await readFile(join(dir, 'ref.cred'));
    const decoded = decodeCredentialFile(ref);
    expect(encodeCredentialFile(decoded)).toEqual(ref);
    const ours = decodeCredentialFile(encodeCredentialFile(makeCredential({ ekPublic, akName, secret: Buffer.from('sixteen byte sec') })));
    // Same sizes as the reference (the contents differ: each seed is random).
    expect(ours.credentialBlob.length).toBe(decoded.credentialBlob.length);
    expect(ours.encryptedSecret.length).toBe(decoded.encryptedSecret.length);
    expect(await activate('ek-rsa.ctx', 'ak-rsa', ref)).toEqual(Buffer.from('sixteen byte sec'));
  });
});
