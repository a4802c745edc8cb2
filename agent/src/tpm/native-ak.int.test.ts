import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeCredential, parsePublic, quotePcrsFromWire, tpmObjectName, verifyAkAttributes, verifyQuote,
} from '@nodeward/attest';
import { createSwtpmCa, startSwtpm, tpm2, type Swtpm } from '@nodeward/e2e/sim';
import type { LogFields, Logger } from '../log.js';
import { AgentTpm } from './agent-tpm.js';
import { nativeActivate, nativeCreateAk, nativeQuote, nativeReadPublic } from './native-tpm.js';
import { TpmResponseError } from './tpm-command.js';
import { connector, transportFor, withConnection } from './tpm-transport.js';

const EK = 0x81010001;

/** The TPMT_PUBLIC without its unique field (the key itself), so two AKs made from one template compare equal. */
function templateOf(tpm2bPublic: Buffer): Buffer {
  const p = parsePublic(tpm2bPublic);
  const unique = p.type === 'rsa' ? 2 + p.modulus.length : 4 + p.x.length + p.y.length;
  return Buffer.from(p.raw.subarray(0, p.raw.length - unique));
}

describe('AK created from Node (TPM2_Create, TPM2_Load, TPM2_EvictControl) against swtpm', () => {
  let dir: string;
  let swtpm: Swtpm;
  let agent: AgentTpm;
  const logged: { msg: string; fields?: LogFields }[] = [];
  const capture = (msg: string, fields?: LogFields): void => { logged.push({ msg, fields }); };
  const logger: Logger = { debug: capture, info: capture, warn: capture, error: capture };
  const tcp = (): ReturnType<typeof connector> => connector(transportFor(swtpm.tcti)!);
  const readPublic = async (h: number): Promise<{ tpm2bPublic: Buffer; name: Buffer }> =>
    (await withConnection(tcp(), (c) => nativeReadPublic(c, h)))!;

  /** What tpm2_createak under the persistent EK and tpm2_evictcontrol (the agent's fallback) persist at `handle`. */
  async function toolsAk(akType: 'rsa' | 'ecc', handle: number): Promise<Buffer> {
    const scheme = akType === 'rsa' ? ['-G', 'rsa', '-s', 'rsassa'] : ['-G', 'ecc', '-s', 'ecdsa'];
    const ctx = join(dir, `tools-${akType}.ctx`);
    await tpm2(swtpm, 'tpm2_createak', ['-C', `0x${EK.toString(16)}`, '-c', ctx, ...scheme, '-g', 'sha256',
      '-u', join(dir, `tools-${akType}.pub`), '-n', join(dir, `tools-${akType}.name`), '-r', join(dir, `tools-${akType}.priv`)]);
    await tpm2(swtpm, 'tpm2_flushcontext', ['-t']);
    await tpm2(swtpm, 'tpm2_evictcontrol', ['-C', 'o', '-c', ctx, `0x${handle.toString(16)}`]);
    await tpm2(swtpm, 'tpm2_flushcontext', ['-t']);
    return readFile(join(dir, `tools-${akType}.pub`));
  }

  const leftovers = async (): Promise<string> => (await Promise.all(['handles-transient', 'handles-loaded-session', 'handles-saved-session']
    .map(async (what) => (await tpm2(swtpm, 'tpm2_getcap', [what])).stdout.toString().trim()))).join('');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-native-ak-'));
    swtpm = await startSwtpm({ ca: await createSwtpmCa(join(dir, 'ca')), stateDir: join(dir, 'tpm') });
    agent = await AgentTpm.open({ tcti: swtpm.tcti, akType: 'rsa', akHandle: 0x81010002, ekHandle: EK, logger });
  });
  afterAll(async () => {
    await agent?.close();
    await swtpm?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a new TPM\'s agent creates its AK natively; attest accepts it, its Name matches, a credential activates and a quote verifies', async () => {
    expect(logged.find((l) => l.msg === 'AK created and persisted')?.fields).toMatchObject({ via: 'native', akHandle: '0x81010002' });
    const id = agent.identity;
    const akPublic = Buffer.from(id.akPublic, 'base64');
    expect(verifyAkAttributes(akPublic)).toEqual([]);
    expect(tpmObjectName(parsePublic(akPublic)).toString('hex')).toBe(id.akName);
    const secret = randomBytes(32);
    const made = makeCredential({ ekPublic: Buffer.from(id.ekPublic, 'base64'), akName: Buffer.from(id.akName, 'hex'), secret });
    expect(await agent.activate(made.credentialBlob, made.encryptedSecret)).toEqual(secret);
    const nonce = randomBytes(20);
    const q = await agent.quote(nonce, { sha256: [0, 7, 10] });
    expect(verifyQuote({ akPublic, quoted: Buffer.from(q.quoted, 'base64'), signature: Buffer.from(q.signature, 'base64'), nonce, pcrs: quotePcrsFromWire(q.pcrs) }))
      .toMatchObject({ ok: true });
  });

  it.each(['rsa', 'ecc'] as const)('creates a %s AK with the template tpm2_createak uses, usable for quotes and activation', async (akType) => {
    const nativeHandle = akType === 'rsa' ? 0x81010010 : 0x81010011;
    const reported = await withConnection(tcp(), (c) => nativeCreateAk(c, { ekHandle: EK, akHandle: nativeHandle, akType }));
    const persisted = await readPublic(nativeHandle);
    expect(persisted.tpm2bPublic).toEqual(reported);
    const fromTools = await toolsAk(akType, akType === 'rsa' ? 0x81010012 : 0x81010013);
    expect(templateOf(persisted.tpm2bPublic)).toEqual(templateOf(fromTools));
    expect(persisted.tpm2bPublic).not.toEqual(fromTools); // a new key each time
    expect(verifyAkAttributes(persisted.tpm2bPublic)).toEqual([]);
    expect(tpmObjectName(parsePublic(persisted.tpm2bPublic))).toEqual(persisted.name);

    const ekPublic = Buffer.from(agent.identity.ekPublic, 'base64');
    const secret = randomBytes(32);
    const made = makeCredential({ ekPublic, akName: persisted.name, secret });
    const o = { akHandle: nativeHandle, ekHandle: EK, credentialBlob: made.credentialBlob, secret: made.encryptedSecret };
    expect(await withConnection(tcp(), (c) => nativeActivate(c, o))).toEqual(secret);
    const nonce = randomBytes(20);
    const q = await withConnection(tcp(), (c) => nativeQuote(c, { akHandle: nativeHandle, akType, nonce, sel: { sha256: [0, 10] } }));
    expect(verifyQuote({ akPublic: persisted.tpm2bPublic, quoted: Buffer.from(q.quoted, 'base64'), signature: Buffer.from(q.signature, 'base64'), nonce, pcrs: quotePcrsFromWire(q.pcrs) }))
      .toMatchObject({ ok: true });
    expect(await leftovers()).toBe('');
  });

  it('fails with a TpmResponseError naming the command when the EK is not there, and leaves no session behind', async () => {
    const err = await withConnection(tcp(), (c) => nativeCreateAk(c, { ekHandle: 0x81017777, akHandle: 0x81010020, akType: 'rsa' }))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TpmResponseError);
    expect(err).toMatchObject({ tool: 'TPM2_Create', code: 'TpmError' });
    expect(await leftovers()).toBe('');
  });

  it('fails with TPM2_EvictControl\'s code when the AK handle is taken, and flushes the loaded copy', async () => {
    const err = await withConnection(tcp(), (c) => nativeCreateAk(c, { ekHandle: EK, akHandle: 0x81010002, akType: 'ecc' }))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TpmResponseError);
    expect(err).toMatchObject({ tool: 'TPM2_EvictControl', rc: 0x14c }); // TPM_RC_NV_DEFINED
    expect(await leftovers()).toBe('');
    expect(await readPublic(0x81010002)).toMatchObject({ name: Buffer.from(agent.identity.akName, 'hex') });
  });
});
