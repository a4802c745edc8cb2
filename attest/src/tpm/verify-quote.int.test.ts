import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSwtpmCa, startSwtpm, tpm2, type Swtpm } from '../../../e2e/src/sim/swtpm.js';
import { marshalAttest, parseAttest } from './attest.js';
import { TPM_ST } from './constants.js';
import { tpmObjectName } from './name.js';
import { parsePcrYaml } from './pcr-yaml.js';
import { marshalPublic, parsePublic } from './public.js';
import type { QuoteFailureKind } from './quote-failure.js';
import { detectReboot } from './reboot.js';
import { marshalSignature, parseSignature } from './signature.js';
import { prepareAk } from './prepared-ak.js';
import { verifyAkAttributes } from './ak-attributes.js';
import { verifyQuote, type QuoteInput, type QuoteVerdict } from './verify-quote.js';
import type { HashAlgName } from '../hash-alg.js';
import type { PcrValues } from '../pcr.js';

/** Real quotes from swtpm, each AK kind, verified by verifyQuote and cross-checked with tpm2_checkquote. */

type AkKind = 'rsassa' | 'rsapss' | 'ecdsa';
const SELECTION = 'sha1:0,1,10+sha256:0,10+sha384:10';

interface Quote {
  ak: Buffer;
  quoted: Buffer;
  signature: Buffer;
  nonce: Buffer;
  pcrs: PcrValues<Uint8Array, HashAlgName>;
  dir: string;
}

let dir: string;
let tpm: Swtpm;

/** Runs a tool then flushes transient objects: swtpm has no resource manager and only 3 object slots. */
async function run(tool: string, args: string[]): Promise<string> {
  const { stdout } = await tpm2(tpm, tool, args, dir);
  await tpm2(tpm, 'tpm2_flushcontext', ['-t'], dir);
  return stdout.toString();
}

const AK_ARGS: Record<AkKind, string[]> = {
  rsassa: ['-G', 'rsa', '-g', 'sha256', '-s', 'rsassa'],
  rsapss: ['-G', 'rsa', '-g', 'sha256', '-s', 'rsapss'],
  ecdsa: ['-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa'],
};

async function createAk(name: string, kind: AkKind): Promise<void> {
  await run('tpm2_createak', ['-C', 'ek.ctx', '-c', `${name}.ctx`, ...AK_ARGS[kind], '-u', `${name}.pub`, '-n', `${name}.name`, '-f', 'tss']);
}

async function quote(name: string, kind: AkKind, selection = SELECTION): Promise<Quote> {
  const nonce = randomBytes(16);
  const scheme = kind === 'rsapss' ? ['--scheme', 'rsapss'] : [];
  const out = await run('tpm2_quote', ['-c', `${name}.ctx`, '-l', selection, '-q', nonce.toString('hex'),
    '-m', `${name}.msg`, '-s', `${name}.sig`, '-o', `${name}.pcrs`, '-g', 'sha256', ...scheme]);
  return {
    ak: await readFile(join(dir, `${name}.pub`)),
    quoted: await readFile(join(dir, `${name}.msg`)),
    signature: await readFile(join(dir, `${name}.sig`)),
    nonce,
    pcrs: parsePcrYaml(out),
    dir,
  };
}

const kinds = (v: QuoteVerdict): QuoteFailureKind[] => (v.ok ? [] : v.reasons.map((r) => r.kind));
const input = (q: Quote, over: Partial<QuoteInput> = {}): QuoteInput =>
  ({ akPublic: q.ak, quoted: q.quoted, signature: q.signature, nonce: q.nonce, pcrs: q.pcrs, ...over });

const quotes = {} as Record<AkKind, Quote>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-quote-'));
  const ca = await createSwtpmCa(join(dir, 'ca'));
  tpm = await startSwtpm({ ca, stateDir: join(dir, 'tpm') });
  await run('tpm2_pcrextend', [`10:sha1=${'ab'.repeat(20)},sha256=${'cd'.repeat(32)},sha384=${'ef'.repeat(48)}`]);
  await run('tpm2_pcrextend', [`0:sha256=${'01'.repeat(32)}`]);
  await run('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub']);
  for (const kind of ['rsassa', 'rsapss', 'ecdsa'] as const) {
    await createAk(kind, kind);
    quotes[kind] = await quote(kind, kind);
  }
  await createAk('other', 'rsassa');
});

afterAll(async () => {
  await tpm?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('verifyQuote on swtpm quotes', () => {
  it.each(['rsassa', 'rsapss', 'ecdsa'] as const)('accepts a genuine %s quote over sha1, sha256 and sha384 banks', (kind) => {
    const q = quotes[kind];
    const v = verifyQuote(input(q));
    expect(kinds(v)).toEqual([]);
    if (!v.ok) return;
    expect(v.attest.pcrSelection.map((s) => [s.bank, s.pcrs])).toEqual([['sha1', [0, 1, 10]], ['sha256', [0, 10]], ['sha384', [10]]]);
    expect(v.attest.hashAlg).toBe('sha256');
    expect(Buffer.from(v.attest.pcrs.sha256![10]!).toString('hex')).not.toBe('00'.repeat(32));
    expect(v.attest.clockInfo.resetCount).toBeGreaterThanOrEqual(0);
    expect(v.attest.clockInfo.clock).toBeGreaterThan(0n);
    expect(v.attest.akName).toEqual(tpmObjectName(parsePublic(q.ak)));
  });

  it.each(['rsassa', 'rsapss', 'ecdsa'] as const)('round-trips the real %s structures byte for byte', async (kind) => {
    const q = quotes[kind];
    expect(marshalAttest(parseAttest(q.quoted))).toEqual(q.quoted);
    expect(marshalSignature(parseSignature(q.signature))).toEqual(q.signature);
    expect(marshalPublic(parsePublic(q.ak))).toEqual(q.ak);
    const ek = await readFile(join(dir, 'ek.pub'));
    expect(marshalPublic(parsePublic(ek))).toEqual(ek);
  });

  it.each(['rsassa', 'rsapss', 'ecdsa'] as const)('computes the %s AK Name tpm2_createak printed', async (kind) => {
    expect(tpmObjectName(parsePublic(quotes[kind].ak))).toEqual(await readFile(join(dir, `${kind}.name`)));
  });

  it.each(['rsassa', 'rsapss', 'ecdsa'] as const)('accepts the %s AK attributes and rejects the EK as an AK', async (kind) => {
    expect(verifyAkAttributes(quotes[kind].ak)).toEqual([]);
    const ids = verifyAkAttributes(await readFile(join(dir, 'ek.pub'))).map((f) => f.id);
    expect(ids).toEqual(['identity.ak_not_signing', 'identity.ak_decrypt']);
  });

  describe.each(['rsassa', 'rsapss', 'ecdsa'] as const)('rejects tampering with a %s quote', (kind) => {
    const flip = (b: Buffer, at: number): Buffer => {
      const c = Buffer.from(b);
      c[at]! ^= 0x01;
      return c;
    };
    it('another nonce → NonceMismatch', () => {
      expect(kinds(verifyQuote(input(quotes[kind], { nonce: randomBytes(16) })))).toEqual(['NonceMismatch']);
    });
    it('one PCR value changed → PcrDigestMismatch', () => {
      const q = quotes[kind];
      const sha256 = { ...q.pcrs.sha256, 10: Buffer.alloc(32, 7) };
      expect(kinds(verifyQuote(input(q, { pcrs: { ...q.pcrs, sha256 } })))).toEqual(['PcrDigestMismatch']);
    });
    it('a selected PCR not supplied → MissingPcr', () => {
      const q = quotes[kind];
      const sha384 = {};
      const v = verifyQuote(input(q, { pcrs: { ...q.pcrs, sha384 } }));
      expect(kinds(v)).toEqual(['MissingPcr']);
      expect(v.ok ? undefined : v.reasons[0]!.context).toEqual({ bank: 'sha384', index: 10 });
    });
    it('a PCR value of the wrong size → BadPcrValue', () => {
      const q = quotes[kind];
      const sha1 = { ...q.pcrs.sha1, 0: Buffer.alloc(32) };
      expect(kinds(verifyQuote(input(q, { pcrs: { ...q.pcrs, sha1 } })))).toEqual(['BadPcrValue']);
    });
    it('each byte of the message flipped → BadSignature', () => {
      const q = quotes[kind];
      for (let at = 0; at < q.quoted.length; at++) {
        const v = verifyQuote(input(q, { quoted: flip(q.quoted, at) }));
        expect(v.ok).toBe(false);
        if (!v.ok && v.reasons[0]!.kind !== 'Malformed') expect(v.reasons[0]!.kind).toBe('BadSignature');
      }
    });
    it('a signature byte flipped → BadSignature', () => {
      const q = quotes[kind];
      expect(kinds(verifyQuote(input(q, { signature: flip(q.signature, q.signature.length - 5) })))).toEqual(['BadSignature']);
    });
    it('trusts no PCR the quote did not select', () => {
      const q = quotes[kind];
      const v = verifyQuote(input(q, { pcrs: { ...q.pcrs, sha256: { ...q.pcrs.sha256, 7: Buffer.alloc(32, 9) }, sha512: { 0: Buffer.alloc(64) } } }));
      expect(v.ok).toBe(true);
      if (v.ok) {
        expect(v.attest.pcrs.sha256![7]).toBeUndefined();
        expect(v.attest.pcrs.sha512).toBeUndefined();
      }
    });
  });

  it('a quote verified with another RSA AK → BadSignature', async () => {
    const other = await readFile(join(dir, 'other.pub'));
    expect(kinds(verifyQuote(input(quotes.rsassa, { akPublic: other })))).toEqual(['BadSignature']);
  });

  it('an RSA signature checked against the ECC AK → WrongSigningKey', () => {
    expect(kinds(verifyQuote(input(quotes.rsassa, { akPublic: quotes.ecdsa.ak })))).toEqual(['WrongSigningKey']);
  });

  it('an RSASSA signature checked against the RSAPSS-only AK → WrongSigningKey', () => {
    expect(kinds(verifyQuote(input(quotes.rsassa, { akPublic: quotes.rsapss.ak })))).toEqual(['WrongSigningKey']);
  });

  it('a validly signed TPM2_Certify attestation → NotAQuote', async () => {
    await run('tpm2_certify', ['-c', 'ecdsa.ctx', '-C', 'rsassa.ctx', '-g', 'sha256', '-o', 'certify.attest', '-s', 'certify.sig']);
    const quoted = await readFile(join(dir, 'certify.attest'));
    const parsed = parseAttest(quoted);
    expect(parsed.type).toBe(TPM_ST.ATTEST_CERTIFY);
    expect(parsed.attested.kind).toBe('certify');
    // The nonce is tpm2_certify's own qualifying data, so the type is the only thing wrong.
    const nonce = Buffer.from(parsed.extraData);
    const v = verifyQuote(input(quotes.rsassa, { quoted, signature: await readFile(join(dir, 'certify.sig')), nonce }));
    expect(kinds(v)).toEqual(['NotAQuote']);
  });

  it('garbage bytes → Malformed, naming the structure', () => {
    const v = verifyQuote(input(quotes.rsassa, { quoted: Buffer.from('not a quote') }));
    expect(kinds(v)).toEqual(['Malformed']);
    expect(v.ok ? undefined : v.reasons[0]!.id).toBe('quote.malformed');
  });

  it('prepareAk gives the same verdict and is reused', () => {
    const q = quotes.ecdsa;
    const ak = prepareAk(q.ak);
    expect(prepareAk(q.ak)).toBe(ak);
    expect(verifyQuote(input(q, { akPublic: ak })).ok).toBe(true);
    const rewritten = Buffer.from(quotes.rsassa.ak);
    const first = prepareAk(rewritten);
    quotes.rsapss.ak.copy(rewritten);
    expect(prepareAk(rewritten)).not.toBe(first);
  });
});

describe('tpm2_checkquote agrees where it is right', () => {
  const check = (name: string, nonce: Buffer): Promise<string> =>
    run('tpm2_checkquote', ['-u', `${name}.pub`, '-m', `${name}.msg`, '-s', `${name}.sig`, '-q', nonce.toString('hex'), '-g', 'sha256']);

  it.each(['rsassa', 'ecdsa'] as const)('%s: both accept the genuine quote and both reject another nonce', async (kind) => {
    const q = quotes[kind];
    await expect(check(kind, q.nonce)).resolves.toContain('sig:');
    expect(verifyQuote(input(q)).ok).toBe(true);
    const other = randomBytes(16);
    await expect(check(kind, other)).rejects.toThrow();
    expect(verifyQuote(input(q, { nonce: other })).ok).toBe(false);
  });

  it('rsapss: tpm2_checkquote rejects swtpm salt = digest size, verifyQuote accepts', async () => {
    const q = quotes.rsapss;
    await expect(check('rsapss', q.nonce)).rejects.toThrow(/signature/i);
    expect(verifyQuote(input(q)).ok).toBe(true);
  });
});

describe('reboot detection from clockInfo', () => {
  it('sees resetCount move after a power cycle, and nothing within one boot', async () => {
    const a = verifyQuote(input(await quote('rsassa', 'rsassa', 'sha256:10')));
    const b = verifyQuote(input(await quote('rsassa', 'rsassa', 'sha256:10')));
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(detectReboot(a.attest.clockInfo, b.attest.clockInfo)).toEqual({ rebooted: false, resumed: false });

    await tpm.reboot();
    await run('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub']);
    await createAk('after', 'rsassa');
    const c = verifyQuote(input(await quote('after', 'rsassa', 'sha256:10')));
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.attest.clockInfo.resetCount).toBe(b.attest.clockInfo.resetCount + 1);
    expect(detectReboot(b.attest.clockInfo, c.attest.clockInfo)).toEqual({ rebooted: true, resumed: false });
    expect(detectReboot(c.attest.clockInfo, b.attest.clockInfo).failure?.id).toBe('quote.reset_count_regressed');
  });
});
