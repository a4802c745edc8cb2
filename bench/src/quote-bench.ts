import { constants, createPublicKey, randomBytes, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSignature, prepareAk, verifyQuote, type PreparedAk } from '@nodeward/attest';
import { createSoftAk, softQuote, type SoftAk } from '@nodeward/e2e/sim';
import { keylime } from './keylime.js';
import { tpm2ToolsPcrBlob } from './pcr-blob.js';
import { fmt, interleave, median, met, rate, table } from './timing.js';

/**
 * 1. Quote verification on one core: verifyQuote with a prepared AK against a bare crypto.verify of
 * the same signature over the same TPMS_ATTEST, repeats interleaved. Keylime's checkquote on the
 * same quote (RSASSA and ECDSA only) for reference.
 */

// Short repeats, many of them: on a shared machine the load moves within seconds, and finely
// interleaved pairs see the same load, so the median of the per-pair ratios stays steady.
const SECONDS = 0.4;
const REPEATS = 25;
const KEYLIME_COUNT = 3000;

export interface QuoteCase { ak: SoftAk; quoted: Buffer; signature: Buffer; nonce: Buffer; pcrs: Record<number, Buffer> }

export function quoteCase(scheme: SoftAk['scheme']): QuoteCase {
  const ak = createSoftAk(scheme);
  const pcrs: Record<number, Buffer> = {};
  for (let i = 0; i <= 10; i++) pcrs[i] = randomBytes(32);
  const nonce = randomBytes(32);
  const q = softQuote(ak, nonce, { sha256: Object.fromEntries(Object.entries(pcrs)) });
  return { ak, ...q, nonce, pcrs };
}

function rawInput(ak: PreparedAk, signature: Buffer): { key: KeyObject | VerifyKeyObjectInput; sig: Uint8Array } {
  const s = parseSignature(signature);
  if (s.scheme === 'rsassa') return { key: ak.key, sig: s.sig };
  if (s.scheme === 'rsapss') return { key: { key: ak.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig: s.sig };
  if (s.scheme === 'ecdsa') return { key: { key: ak.key, dsaEncoding: 'ieee-p1363' }, sig: Buffer.concat([s.r, s.s]) };
  throw new Error(`no raw verify for ${s.scheme}`);
}

export interface KeylimeQuoteFiles { akPem: string; akTpm2b: string; quote: string; sig: string; pcrs: string }

/** Files for keylime_bench.py: the AK as PEM and as TPM2B_PUBLIC, TPMS_ATTEST, TPMT_SIGNATURE, tpm2-tools PCR blob. */
export async function keylimeQuoteFiles(dir: string, c: QuoteCase): Promise<KeylimeQuoteFiles> {
  const files: KeylimeQuoteFiles = { akPem: join(dir, 'ak.pem'), akTpm2b: join(dir, 'ak.tpm2b'), quote: join(dir, 'quote.bin'), sig: join(dir, 'sig.bin'), pcrs: join(dir, 'pcrs.bin') };
  await writeFile(files.akPem, createPublicKey(c.ak.privateKey).export({ type: 'spki', format: 'pem' }));
  await writeFile(files.akTpm2b, c.ak.publicArea);
  await writeFile(files.quote, c.quoted);
  await writeFile(files.sig, c.signature);
  await writeFile(files.pcrs, tpm2ToolsPcrBlob('sha256', c.pcrs));
  return files;
}

async function keylimeRate(c: QuoteCase): Promise<number | undefined> {
  if (c.ak.scheme === 'rsapss') return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'nw-bench-quote-'));
  try {
    const f = await keylimeQuoteFiles(dir, c);
    const r = await keylime('quote', [f.akPem, f.quote, f.sig, f.pcrs, c.nonce.toString('hex'), 'sha256', KEYLIME_COUNT]);
    return r.count / r.seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchScheme(scheme: SoftAk['scheme']): Promise<string[]> {
  const c = quoteCase(scheme);
  const ak = prepareAk(c.ak.publicArea);
  const input = { akPublic: ak, quoted: c.quoted, signature: c.signature, nonce: c.nonce, pcrs: { sha256: c.pcrs } };
  if (!verifyQuote(input).ok) throw new Error(`${scheme}: the soft quote does not verify`);
  const raw = rawInput(ak, c.signature);
  if (!verify('sha256', c.quoted, raw.key, raw.sig)) throw new Error(`${scheme}: raw verify failed`);
  const p = await interleave(REPEATS, () => rate(() => { verifyQuote(input); }, SECONDS), () => rate(() => { verify('sha256', c.quoted, raw.key, raw.sig); }, SECONDS));
  const kl = await keylimeRate(c);
  const quotes = median(p.a);
  const ratio = median(p.ratios);
  const target = scheme === 'ecdsa' ? 5000 : 20000;
  const label = { rsassa: 'RSA-2048 RSASSA', rsapss: 'RSA-2048 RSAPSS', ecdsa: 'ECDSA P-256' }[scheme];
  return [label, fmt(quotes), fmt(median(p.b)), fmt(ratio, 2), kl === undefined ? 'n/a (Keylime: RSASSA/ECDSA only)' : `${fmt(kl)} (×${fmt(quotes / kl, 1)})`,
    `≥ ${fmt(target)}/s: ${met(quotes >= target)}; ratio ≥ 0.8: ${met(ratio >= 0.8)}`];
}

export async function quoteBench(): Promise<string> {
  const rows: string[][] = [];
  for (const scheme of ['rsassa', 'rsapss', 'ecdsa'] as const) rows.push(await benchScheme(scheme));
  return table(['AK / scheme', 'verifyQuote (prepared AK) quotes/s', 'raw crypto.verify /s', 'ratio (median of per-repeat)',
    `Keylime checkquote /s (${KEYLIME_COUNT} calls, this run)`, 'targets'], rows)
    + `\nsha256 PCRs 0-10 quoted, 32-byte nonce; each figure the median of ${REPEATS} interleaved repeats of ≥ ${SECONDS} s, single thread.\n`;
}
