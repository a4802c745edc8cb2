import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCredential, parseAttest, quotePcrsFromWire, verifyQuote, type QuoteResponse } from '@nodeward/attest';
import { createSwtpmCa, startSwtpm, tpm2, type Swtpm } from '@nodeward/e2e/sim';
import { AgentTpm } from './agent-tpm.js';
import { nativeActivate, nativeQuote } from './native-tpm.js';
import { TpmResponseError } from './tpm-command.js';
import { connector, transportFor, withConnection } from './tpm-transport.js';

/** 48 PCRs: more than one TPM2_PCR_Read answers (8), so the reads loop. */
const ALL = Array.from({ length: 24 }, (_, i) => i);
const SEL = { sha1: ALL, sha256: ALL };

describe('TPM commands from Node against swtpm', () => {
  let dir: string;
  let swtpm: Swtpm;
  let native: AgentTpm;
  let tools: AgentTpm;

  const open = (useNative: boolean): Promise<AgentTpm> =>
    AgentTpm.open({ tcti: swtpm.tcti, akType: 'rsa', akHandle: 0x81010002, ekHandle: 0x81010001, native: useNative });
  const verify = (q: QuoteResponse, nonce: Buffer): ReturnType<typeof verifyQuote> => verifyQuote({
    akPublic: Buffer.from(native.identity.akPublic, 'base64'), quoted: Buffer.from(q.quoted, 'base64'),
    signature: Buffer.from(q.signature, 'base64'), nonce, pcrs: quotePcrsFromWire(q.pcrs),
  });
  const credential = (akName: string, secret: Buffer): { blob: Buffer; enc: Buffer } => {
    const made = makeCredential({ ekPublic: Buffer.from(native.identity.ekPublic, 'base64'), akName: Buffer.from(akName, 'hex'), secret });
    return { blob: made.credentialBlob, enc: made.encryptedSecret };
  };
  const tcp = (): ReturnType<typeof connector> => connector(transportFor(swtpm.tcti)!);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-native-tpm-'));
    const ca = await createSwtpmCa(join(dir, 'ca'));
    swtpm = await startSwtpm({ ca, stateDir: join(dir, 'tpm') });
    native = await open(true);
    tools = await open(false);
    await tpm2(swtpm, 'tpm2_pcrextend', [`10:sha256=${'ab'.repeat(32)}`]);
  });
  afterAll(async () => {
    await native?.close();
    await tools?.close();
    await swtpm?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens with the same identity as the tpm2-tools path (AK read with TPM2_ReadPublic)', () => {
    expect(native.identity).toEqual(tools.identity);
  });

  it('quotes 48 PCRs in two banks; the quote verifies and equals the tpm2-tools quote but for the nonce and clock', async () => {
    const n1 = randomBytes(20);
    const n2 = randomBytes(20);
    const a = await native.quote(n1, SEL);
    const b = await tools.quote(n2, SEL);
    expect(verify(a, n1)).toMatchObject({ ok: true });
    expect(verify(b, n2)).toMatchObject({ ok: true });
    expect(verify(a, n2)).toMatchObject({ ok: false });
    expect(a.pcrs).toEqual(b.pcrs);
    expect(Object.keys(a.pcrs.sha256!)).toHaveLength(24);
    expect(a.pcrs.sha256!['10']).not.toBe('00'.repeat(32));
    const [qa, qb] = [a, b].map((q) => parseAttest(Buffer.from(q.quoted, 'base64')));
    expect(qa!.attested).toEqual(qb!.attested);
    expect(qa!.qualifiedSigner).toEqual(qb!.qualifiedSigner);
    expect(Buffer.from(a.signature, 'base64').subarray(0, 4)).toEqual(Buffer.from(b.signature, 'base64').subarray(0, 4)); // RSASSA, SHA-256
  });

  it('activates a credential that attest made for its EK and AK, as the tpm2-tools path does', async () => {
    const secret = randomBytes(32);
    const c = credential(native.identity.akName, secret);
    expect(await native.activate(c.blob, c.enc)).toEqual(secret);
    const again = credential(native.identity.akName, secret);
    expect(await tools.activate(again.blob, again.enc)).toEqual(secret);
  });

  it('fails a credential made for another AK with a TpmResponseError naming ActivateCredential and its code, and leaks no session', async () => {
    const other = credential(`000b${'11'.repeat(32)}`, randomBytes(32));
    for (let i = 0; i < 5; i++) {
      // More failures than swtpm has session slots: each failed activation's policy session is flushed.
      const err = await native.activate(other.blob, other.enc).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TpmResponseError);
      expect(err).toMatchObject({ tool: 'TPM2_ActivateCredential', code: 'TpmError' });
      expect((err as TpmResponseError).rc).toBeGreaterThan(0);
    }
    const secret = randomBytes(32);
    const c = credential(native.identity.akName, secret);
    expect(await native.activate(c.blob, c.enc)).toEqual(secret);
    const saved = await tpm2(swtpm, 'tpm2_getcap', ['handles-saved-session']);
    const loaded = await tpm2(swtpm, 'tpm2_getcap', ['handles-loaded-session']);
    expect(saved.stdout.toString().trim() + loaded.stdout.toString().trim()).toBe('');
  });

  it('opening flushes the transient objects and sessions others left (GetCapability + FlushContext, no tpm2_flushcontext)', async () => {
    await tpm2(swtpm, 'tpm2_createprimary', ['-C', 'o', '-c', join(dir, 'primary.ctx')]);
    await tpm2(swtpm, 'tpm2_startauthsession', ['--policy-session', '-S', join(dir, 'session.ctx')]);
    const left = async (): Promise<string> => (await Promise.all(['handles-transient', 'handles-loaded-session', 'handles-saved-session']
      .map(async (what) => (await tpm2(swtpm, 'tpm2_getcap', [what])).stdout.toString().trim()))).join('');
    expect(await left()).not.toBe('');
    const reopened = await open(true);
    await reopened.close();
    expect(await left()).toBe('');
  });

  it('surfaces a bad handle as a TpmResponseError with the TPM code, for the quote and the activation', async () => {
    const q = withConnection(tcp(), (c) => nativeQuote(c, { akHandle: 0x81017777, akType: 'rsa', nonce: randomBytes(8), sel: { sha256: [0] } }));
    await expect(q).rejects.toThrow(TpmResponseError);
    await expect(q).rejects.toMatchObject({ tool: 'TPM2_Quote', rc: 0x18b });
    const c = credential(native.identity.akName, randomBytes(32));
    const act = withConnection(tcp(), (conn) => nativeActivate(conn, { akHandle: 0x81010002, ekHandle: 0x81017777, credentialBlob: c.blob, secret: c.enc }));
    await expect(act).rejects.toMatchObject({ tool: 'TPM2_ActivateCredential', rc: 0x28b });
  });
});
