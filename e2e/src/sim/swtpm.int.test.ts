import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSwtpmCa, readSwtpmCa, startSwtpm, tpm2, type Swtpm } from './swtpm.js';

describe('swtpm simulated TPM', () => {
  let dir: string;
  const tpms: Swtpm[] = [];
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'nw-swtpm-')); });
  afterAll(async () => {
    await Promise.all(tpms.map((t) => t.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each node its own TPM with an EK certificate from the shared local CA', async () => {
    const ca0 = await createSwtpmCa(join(dir, 'ca'));
    const a = await startSwtpm({ ca: ca0, stateDir: join(dir, 'a') });
    const b = await startSwtpm({ ca: ca0, stateDir: join(dir, 'b') });
    tpms.push(a, b);
    const ca = await readSwtpmCa(ca0);
    const issuer = new X509Certificate(ca.issuerCertPem);
    const ekA = new X509Certificate((await tpm2(a, 'tpm2_nvread', ['0x1c00002'])).stdout);
    const ekB = new X509Certificate((await tpm2(b, 'tpm2_nvread', ['0x1c00002'])).stdout);
    expect(ekA.verify(issuer.publicKey)).toBe(true);
    expect(ekB.verify(issuer.publicKey)).toBe(true);
    expect(ekA.publicKey.export({ format: 'der', type: 'spki' })).not.toEqual(ekB.publicKey.export({ format: 'der', type: 'spki' }));

    await tpm2(a, 'tpm2_pcrextend', [`10:sha256=${'11'.repeat(32)}`]);
    const pcrA = (await tpm2(a, 'tpm2_pcrread', ['sha256:10'])).stdout.toString();
    const pcrB = (await tpm2(b, 'tpm2_pcrread', ['sha256:10'])).stdout.toString();
    expect(pcrA).not.toMatch(/0x0{64}/);
    expect(pcrB).toMatch(/0x0{64}/);

    await a.reboot();
    expect((await tpm2(a, 'tpm2_pcrread', ['sha256:10'])).stdout.toString()).toMatch(/0x0{64}/);
  });
});
