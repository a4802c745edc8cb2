import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BANK_NAMES, encodeCredentialFile, type IdentityResponse, type PcrSelection, type QuoteResponse } from '@nodeward/attest';
import { silentLogger, type Logger } from '../log.js';
import { SerialQueue } from './serial-queue.js';
import { toolRunner, type ToolRunner } from './tool-runner.js';
import { TpmError } from './tpm-error.js';
import { describeTpm, parseFixedProperties, parseQuotePcrs, trimDer, unwrapAttest } from './tool-output.js';
import { isRsaTemplateEk, summarizePublic } from './public-area.js';
import { nativeActivate, nativeCreateAk, nativeFixedProperties, nativeFlushAll, nativeNvRead, nativeQuote, nativeReadPublic } from './native-tpm.js';
import { connector, transportFor, withConnection, type Connector } from './tpm-transport.js';

export type AkType = 'rsa' | 'ecc';

export interface TpmConfig {
  /** TPM2TOOLS_TCTI, e.g. `device:/dev/tpmrm0` or `swtpm:host=127.0.0.1,port=2321`. */
  tcti: string;
  akType: AkType;
  /** Persistent handle of the AK, e.g. 0x81010002. */
  akHandle: number;
  /**
   * Persistent handle of the EK (TCG: 0x81010001). When it holds the EK (the same public area as the
   * one created from the EK template) or is free (the EK is persisted there), credential activation
   * uses it instead of re-creating the EK from its template every time. Undefined: always re-create.
   */
  ekHandle?: number;
  /** Parent of the agent's private (0700) scratch directory; defaults to the OS temp dir. */
  scratchParent?: string;
  /**
   * Send TPM2_Quote, TPM2_PCR_Read, the activation commands, TPM2_ReadPublic and (under the persistent
   * EK) the AK creation from Node over the TCTI's socket or device (swtpm's TCP server, a TPM character
   * device) instead of one tpm2-tools process per command. Default true; other TCTIs always use tpm2-tools.
   */
  native?: boolean;
  logger?: Logger;
}

/** NV indices of EK certificates (TCG EK Credential Profile): RSA-2048, ECC P-256, and swtpm's ECC P-384. */
const EK_CERT_INDICES: { index: string; keyType: 'rsa' | 'ecc' }[] = [
  { index: '0x1c00002', keyType: 'rsa' },
  { index: '0x1c0000a', keyType: 'ecc' },
  { index: '0x1c00016', keyType: 'ecc' },
];

/** tpm2_quote's -l argument: banks in a fixed order, indices ascending, e.g. `sha1:10+sha256:0,7,10`. */
export function selectionArg(sel: PcrSelection): string {
  return BANK_NAMES.filter((b) => (sel[b]?.length ?? 0) > 0)
    .map((b) => `${b}:${[...new Set(sel[b])].sort((x, y) => x - y).join(',')}`)
    .join('+');
}

const hex = (h: number): string => `0x${h.toString(16)}`;

/**
 * The agent's TPM: EK, persistent AK, quotes and credential activation through tpm2-tools. Every
 * command runs through one queue; transient objects and sessions are flushed after each operation
 * (swtpm and a TPM without resource manager have only three object slots).
 */
export class AgentTpm {
  private readonly queue = new SerialQueue();
  private seq = 0;
  private ekType: 'rsa' | 'ecc' = 'rsa';
  /** Where the EK is persisted, once open() confirmed it holds our EK. */
  private persistentEk: number | undefined;
  private ident: IdentityResponse | undefined;
  /** Connections for the commands sent from Node; undefined: tpm2-tools for everything. */
  private readonly native: Connector | undefined;

  private constructor(
    private readonly cfg: TpmConfig,
    private readonly dir: string,
    private readonly tool: ToolRunner,
    private readonly log: Logger,
  ) {
    const spec = cfg.native === false ? undefined : transportFor(cfg.tcti);
    this.native = spec === undefined ? undefined : connector(spec);
  }

  /** Opens the TPM: reads EK certificates, creates the EK, creates or reuses the persistent AK. */
  static async open(cfg: TpmConfig): Promise<AgentTpm> {
    const dir = await mkdtemp(join(cfg.scratchParent ?? tmpdir(), 'nodeward-agent-'));
    const tpm = new AgentTpm(cfg, dir, toolRunner(cfg.tcti, dir), cfg.logger ?? silentLogger);
    try {
      await tpm.queue.run(() => tpm.initialize());
      await tpm.queue.run(() => tpm.flushAll());
    } catch (e) {
      await tpm.close();
      throw e;
    }
    return tpm;
  }

  get identity(): IdentityResponse {
    if (!this.ident) throw new TpmError('agent', 'TPM not initialised');
    return this.ident;
  }

  /** Queued jobs not yet finished (for metrics and back-pressure). */
  get queueLength(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    await this.queue.run(() => rm(this.dir, { recursive: true, force: true }));
  }

  /** TPM2_Quote with the persistent AK: it loads no object and opens no session, so nothing is flushed unless it fails. */
  async quote(nonce: Buffer, sel: PcrSelection): Promise<QuoteResponse> {
    const native = this.native;
    if (native) {
      const o = { akHandle: this.cfg.akHandle, akType: this.cfg.akType, nonce, sel };
      return this.exclusive('on-error', () => withConnection(native, (c) => nativeQuote(c, o)));
    }
    return this.exclusive('on-error', async () => {
      const f = this.files('msg', 'sig', 'pcrs');
      try {
        const { stdout } = await this.tool('tpm2_quote', ['-c', hex(this.cfg.akHandle), '-l', selectionArg(sel),
          '-q', nonce.toString('hex'), '-m', f.msg, '-s', f.sig, '-o', f.pcrs, '-g', 'sha256']);
        const quoted = unwrapAttest(await readFile(f.msg));
        const signature = await readFile(f.sig);
        return { quoted: quoted.toString('base64'), signature: signature.toString('base64'), pcrs: parseQuotePcrs(stdout.toString()) };
      } finally {
        await removeFiles(f);
      }
    });
  }

  /**
   * TPM2_ActivateCredential with the AK and the EK (policy session on the endorsement hierarchy).
   * The EK is the persistent one when open() found or put it there, else it is re-created from its
   * template; a credential made for another EK or AK Name fails to activate either way.
   */
  async activate(idObject: Buffer, encSecret: Buffer): Promise<Buffer> {
    const native = this.native;
    const ekHandle = this.persistentEk;
    if (native && ekHandle !== undefined) {
      // The TPM flushes the policy session itself (continueSession clear); nothing is left to flush unless it failed.
      const o = { akHandle: this.cfg.akHandle, ekHandle, credentialBlob: idObject, secret: encSecret };
      return this.exclusive('on-error', () => withConnection(native, (c) => nativeActivate(c, o)));
    }
    // With the persistent EK, only the policy session is left behind: it alone is flushed (one command, not three).
    const persistent = this.persistentEk !== undefined;
    return this.exclusive(persistent ? 'on-error' : 'always', async () => {
      const f = this.files('ek.ctx', 's.ctx', 'cred', 'secret');
      try {
        await writeFile(f.cred, encodeCredentialFile({ credentialBlob: idObject, encryptedSecret: encSecret }), { mode: 0o600 });
        const ek = this.persistentEk === undefined ? f['ek.ctx'] : hex(this.persistentEk);
        if (this.persistentEk === undefined) {
          await this.tool('tpm2_createek', ['-c', f['ek.ctx'], '-G', this.ekType]);
          await this.flush('-t');
        }
        await this.tool('tpm2_startauthsession', ['--policy-session', '-S', f['s.ctx']]);
        await this.tool('tpm2_policysecret', ['-S', f['s.ctx'], '-c', 'e']);
        await this.tool('tpm2_activatecredential', ['-c', hex(this.cfg.akHandle), '-C', ek, '-i', f.cred,
          '-o', f.secret, '-P', `session:${f['s.ctx']}`]);
        return await readFile(f.secret);
      } finally {
        if (persistent) void this.queue.run(() => this.flushSession(f['s.ctx']).finally(() => removeFiles(f)));
        else await removeFiles(f);
      }
    });
  }

  /** Flushes one saved session by its context file; on failure, everything (nothing may stay loaded). */
  private async flushSession(contextFile: string): Promise<void> {
    await this.tool('tpm2_flushcontext', [contextFile]).catch(async (e: unknown) => {
      this.log.debug('session flush failed; flushing all', { error: String(e) });
      await this.flushAll();
    });
  }

  /**
   * Runs one operation in the queue, then (always, or only when it failed) queues the flush of
   * transient objects and sessions right behind it: the next operation still starts on an empty TPM,
   * but the caller does not wait for the flush.
   */
  private exclusive<T>(flush: 'always' | 'on-error', op: () => Promise<T>): Promise<T> {
    const result = this.queue.run(op);
    result.then(() => flush === 'always', () => true)
      .then((needed) => { if (needed) void this.queue.run(() => this.flushAll()); }, () => undefined);
    return result;
  }

  private async flushAll(): Promise<void> {
    const native = this.native;
    if (native) {
      await withConnection(native, nativeFlushAll).catch((e: unknown) => this.log.warn('tpm flush failed', { error: String(e) }));
      return;
    }
    for (const what of ['-t', '-s', '-l']) {
      await this.flush(what).catch((e: unknown) => this.log.warn('tpm flush failed', { what, error: String(e) }));
    }
  }

  private async flush(what: string): Promise<void> {
    await this.tool('tpm2_flushcontext', [what]);
  }

  /** Unique scratch file names for one operation. */
  private files<K extends string>(...names: K[]): Record<K, string> {
    const n = ++this.seq;
    return Object.fromEntries(names.map((k) => [k, join(this.dir, `${n}-${k}`)])) as Record<K, string>;
  }

  private async initialize(): Promise<void> {
    await this.flushAll();
    const ekCertificates = await this.readEkCertificates();
    const persisted = await this.persistedTemplateEk();
    const ekPublic = persisted ?? await this.createEk();
    if (persisted === undefined && this.cfg.ekHandle !== undefined) this.persistentEk = await this.ensurePersistentEk(this.cfg.ekHandle, ekPublic);
    const ak = await this.ensureAk();
    const props = await this.fixedProperties();
    this.ident = {
      ekCertificates,
      ekPublic: ekPublic.toString('base64'),
      akPublic: ak.pub.toString('base64'),
      akName: ak.name.toString('hex'),
      tpm: describeTpm(props),
    };
    this.log.info('tpm ready', { ekType: this.ekType, ekSource: persisted === undefined ? 'created' : 'persistent', ekHandle: this.persistentEk === undefined ? 'none' : hex(this.persistentEk), akType: this.cfg.akType, akHandle: hex(this.cfg.akHandle), akName: this.ident.akName, akCreated: ak.created });
  }

  /** TPM_PT_MANUFACTURER and the firmware versions, named as tpm2_getcap prints them. */
  private async fixedProperties(): Promise<Map<string, { raw: number }>> {
    const native = this.native;
    if (!native) return parseFixedProperties((await this.tool('tpm2_getcap', ['properties-fixed'])).stdout.toString());
    const raw = await withConnection(native, nativeFixedProperties);
    const named: [string, number][] = [['TPM2_PT_MANUFACTURER', 0x105], ['TPM2_PT_FIRMWARE_VERSION_1', 0x10b], ['TPM2_PT_FIRMWARE_VERSION_2', 0x10c]];
    return new Map(named.filter(([, pt]) => raw.has(pt)).map(([name, pt]) => [name, { raw: raw.get(pt)! }]));
  }

  private async readEkCertificates(): Promise<IdentityResponse['ekCertificates']> {
    const out: IdentityResponse['ekCertificates'] = [];
    for (const { index, keyType } of EK_CERT_INDICES) {
      const der = await this.nvRead(index).then((b) => (b === undefined ? undefined : trimDer(b)), () => undefined);
      if (der) out.push({ keyType, der: der.toString('base64') });
      else this.log.debug('no EK certificate', { index });
    }
    return out;
  }

  /** An NV index's content (TPM2_NV_ReadPublic + TPM2_NV_Read from Node, else tpm2_nvread); undefined or a rejection when unreadable. */
  private async nvRead(index: string): Promise<Buffer | undefined> {
    const native = this.native;
    if (!native) return (await this.tool('tpm2_nvread', [index])).stdout;
    return withConnection(native, (c) => nativeNvRead(c, Number(index)));
  }

  /** Creates the EK (RSA-2048 when the TPM has it, else ECC P-256) and returns its TPM2B_PUBLIC. */
  private async createEk(): Promise<Buffer> {
    const f = this.files('ek.ctx', 'ek.pub');
    try {
      await this.tool('tpm2_createek', ['-c', f['ek.ctx'], '-G', 'rsa', '-u', f['ek.pub']]).catch(async (e: unknown) => {
        this.log.warn('RSA EK unavailable, using ECC', { error: String(e) });
        this.ekType = 'ecc';
        await this.flush('-t');
        await this.tool('tpm2_createek', ['-c', f['ek.ctx'], '-G', 'ecc', '-u', f['ek.pub']]);
      });
      return await readFile(f['ek.pub']);
    } finally {
      await this.flush('-t');
      await removeFiles(f);
    }
  }

  /**
   * The public area of the RSA EK already persisted at the EK handle (made from the TCG default
   * template), which then serves as the EK without re-deriving it; undefined when there is none.
   */
  private async persistedTemplateEk(): Promise<Buffer | undefined> {
    if (this.cfg.ekHandle === undefined) return undefined;
    const pub = await this.readPublic(this.cfg.ekHandle);
    if (pub === undefined || !isRsaTemplateEk(pub)) return undefined;
    this.persistentEk = this.cfg.ekHandle;
    this.ekType = 'rsa';
    return pub;
  }

  /**
   * The EK's persistent handle when it holds exactly the EK created from the template (`ekPublic`),
   * persisting it there when the handle is free; undefined when the handle holds another key (that
   * key is left alone and every activation re-creates the EK).
   */
  private async ensurePersistentEk(handle: number, ekPublic: Buffer): Promise<number | undefined> {
    const persisted = await this.readPublic(handle);
    if (persisted !== undefined) {
      if (persisted.equals(ekPublic)) return handle;
      this.log.warn('EK handle holds another key; the EK is re-created for every activation', { ekHandle: hex(handle) });
      return undefined;
    }
    const f = this.files('ek.ctx');
    try {
      await this.tool('tpm2_createek', ['-c', f['ek.ctx'], '-G', this.ekType]);
      await this.tool('tpm2_evictcontrol', ['-C', 'o', '-c', f['ek.ctx'], hex(handle)]);
    } catch (e) {
      this.log.warn('EK not persisted; the EK is re-created for every activation', { ekHandle: hex(handle), error: String(e) });
      return undefined;
    } finally {
      await this.flush('-t');
      await removeFiles(f);
    }
    const now = await this.readPublic(handle);
    return now?.equals(ekPublic) === true ? handle : undefined;
  }

  /** The TPM2B_PUBLIC of a persistent handle, or undefined when nothing is there. */
  private async readPublic(handle: number): Promise<Buffer | undefined> {
    return (await this.readPublicAndName(handle))?.pub;
  }

  /** TPM2_ReadPublic from Node; undefined without a native transport. */
  private async readPublicNative(handle: number): Promise<{ pub: Buffer; name: Buffer } | undefined> {
    const native = this.native;
    if (!native) return undefined;
    const r = await withConnection(native, (c) => nativeReadPublic(c, handle));
    return r && { pub: r.tpm2bPublic, name: r.name };
  }

  /** The TPM2B_PUBLIC and Name of a persistent handle, or undefined when nothing is there. */
  private async readPublicAndName(handle: number): Promise<{ pub: Buffer; name: Buffer } | undefined> {
    if (this.native) return this.readPublicNative(handle);
    const f = this.files('pub', 'name');
    try {
      const found = await this.tool('tpm2_readpublic', ['-c', hex(handle), '-o', f.pub, '-n', f.name]).then(() => true, () => false);
      return found ? { pub: await readFile(f.pub), name: await readFile(f.name) } : undefined;
    } finally {
      await removeFiles(f);
    }
  }

  private async ensureAk(): Promise<{ pub: Buffer; name: Buffer; created: boolean }> {
    const existing = await this.readPersistentAk();
    if (existing) return { ...existing, created: false };
    await this.createAk();
    const created = await this.readPersistentAk();
    if (!created) throw new TpmError('tpm2_evictcontrol', `AK not found at ${hex(this.cfg.akHandle)} after persisting it`);
    return { ...created, created: true };
  }

  private async readPersistentAk(): Promise<{ pub: Buffer; name: Buffer } | undefined> {
    const found = await this.readPublicAndName(this.cfg.akHandle);
    if (!found) return undefined;
    const s = summarizePublic(found.pub);
    if (!s || s.type !== this.cfg.akType || !s.restricted || !s.sign) {
      throw new TpmError('tpm2_readpublic', `handle ${hex(this.cfg.akHandle)} holds a key that is not a restricted ${this.cfg.akType} signing key; choose another --ak-handle or evict it`);
    }
    return found;
  }

  private async createAk(): Promise<void> {
    const native = this.native;
    const ekHandle = this.persistentEk;
    if (native && ekHandle !== undefined) {
      // TPM2_Create + TPM2_Load under the persistent EK, TPM2_EvictControl: no tpm2-tools process.
      const o = { ekHandle, akHandle: this.cfg.akHandle, akType: this.cfg.akType };
      await withConnection(native, (c) => nativeCreateAk(c, o));
      this.log.info('AK created and persisted', { akHandle: hex(this.cfg.akHandle), akType: this.cfg.akType, via: 'native' });
      return;
    }
    await this.createAkWithTools();
  }

  /** tpm2_createak under the EK (re-created from its template when it is not persistent), then tpm2_evictcontrol. */
  private async createAkWithTools(): Promise<void> {
    const f = this.files('ek.ctx', 'ak.ctx', 'ak.pub', 'ak.name', 'ak.priv');
    const scheme = this.cfg.akType === 'rsa' ? ['-G', 'rsa', '-s', 'rsassa'] : ['-G', 'ecc', '-s', 'ecdsa'];
    try {
      // The AK's parent is the EK: the persistent one when there is one, else re-created from its template.
      const ek = this.persistentEk === undefined ? f['ek.ctx'] : hex(this.persistentEk);
      if (this.persistentEk === undefined) {
        await this.tool('tpm2_createek', ['-c', f['ek.ctx'], '-G', this.ekType]);
        await this.flush('-t');
      }
      await this.tool('tpm2_createak', ['-C', ek, '-c', f['ak.ctx'], ...scheme, '-g', 'sha256',
        '-u', f['ak.pub'], '-n', f['ak.name'], '-r', f['ak.priv']]);
      await this.flush('-t');
      await this.tool('tpm2_evictcontrol', ['-C', 'o', '-c', f['ak.ctx'], hex(this.cfg.akHandle)]);
      this.log.info('AK created and persisted', { akHandle: hex(this.cfg.akHandle), akType: this.cfg.akType, via: 'tpm2-tools' });
    } finally {
      // No flush here: open() flushes everything once initialisation is done (and a failed start flushes at the next one).
      await removeFiles(f);
    }
  }
}

async function removeFiles(files: Record<string, string>): Promise<void> {
  await Promise.all(Object.values(files).map((p) => rm(p, { force: true })));
}
