import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRuntimePolicy, verifyRound, type RoundEvidence, type RoundPolicy, type RoundState } from '@nodeward/attest';
import { createSoftAk, softQuote, type SoftAk } from '@nodeward/e2e/sim/soft-tpm';
import { imaFixture, pcr10After, type ImaFixture } from './ima-fixture.js';
import { IMA_COUNT } from './ima-bench.js';
import { keylime } from './keylime.js';
import { keylimeQuoteFiles, type QuoteCase } from './quote-bench.js';
import { fmt, interleave, median, met, rate, table } from './timing.js';

/**
 * 3. One incremental round: the state after N entries, 10 new entries, a soft quote over sha256 PCRs
 * 0-10 whose PCR 10 covers them. Nodeward: verifyRound (quote, PCR selection, new entries against the
 * policy and the quoted PCR 10, next state). Keylime: checkquote, then process_measurement_list of
 * the 10 new ASCII lines from an AgentAttestState restored to N entries and its PCR 10.
 */

const NEW = 10;
const SECONDS = 2;
const REPEATS = 3;
const KEYLIME_ROUNDS = 2000;

interface Round { evidence: RoundEvidence; policy: RoundPolicy; prev: RoundState; quote: QuoteCase; stateSha256: string }

function makeRound(fx: ImaFixture, policy: RoundPolicy['ima'], scheme: SoftAk['scheme']): Round {
  const n = fx.entries.length - NEW;
  const ak = createSoftAk(scheme);
  const pcrs: Record<number, Buffer> = {};
  for (let i = 0; i < 10; i++) pcrs[i] = randomBytes(32);
  pcrs[10] = Buffer.from(pcr10After(fx.entries, 'sha256'), 'hex');
  const nonce = randomBytes(32);
  const q = softQuote(ak, nonce, { sha256: Object.fromEntries(Object.entries(pcrs)) });
  const stateSha256 = pcr10After(fx.entries, 'sha256', n);
  const fresh = Buffer.concat(fx.entries.slice(n).map((e) => e.bytes));
  return {
    evidence: { nonce, quote: { ...q, pcrs: { sha256: Object.fromEntries(Object.entries(pcrs)) } }, ima: { from: n, total: n + NEW, entries: fresh } },
    policy: { akPublic: ak.publicArea, pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, ima: policy },
    prev: { ima: { count: n, pcr10: { sha1: pcr10After(fx.entries, 'sha1', n), sha256: stateSha256 } }, resetCount: 0, restartCount: 0 },
    quote: { ak, ...q, nonce, pcrs },
    stateSha256,
  };
}

async function benchScheme(fx: ImaFixture, compiled: RoundPolicy['ima'], scheme: SoftAk['scheme'], dir: string): Promise<string[]> {
  const r = makeRound(fx, compiled, scheme);
  const v = verifyRound(r.evidence, r.policy, r.prev);
  if (!v.trusted || v.nextState.ima.count !== IMA_COUNT) throw new Error(`${scheme}: the round does not verify: ${JSON.stringify(v.failures)}`);
  const newLines = join(dir, 'new.ascii');
  await writeFile(newLines, fx.ascii.split('\n').slice(IMA_COUNT - NEW, IMA_COUNT).join('\n') + '\n');
  const args = [...await keylimeQuoteFiles(dir, r.quote), r.quote.nonce.toString('hex'), 'sha256', newLines, join(dir, 'policy.json'),
    r.stateSha256, IMA_COUNT - NEW, KEYLIME_ROUNDS];
  let keylimeOk = true;
  const p = await interleave(REPEATS, () => rate(() => { verifyRound(r.evidence, r.policy, r.prev); }, SECONDS),
    async () => { const k = await keylime('round', args); keylimeOk &&= k.ok; return k.count / k.seconds; });
  if (!keylimeOk) throw new Error(`${scheme}: Keylime rejected the round`);
  const rounds = median(p.a);
  const ratio = median(p.ratios);
  return [scheme === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048 RSASSA', fmt(rounds), fmt(median(p.b)), `×${fmt(ratio, 1)}`,
    `≥ 10,000/s: ${met(rounds >= 10_000)}; ≥ 10×: ${met(ratio >= 10)}`];
}

export async function roundBench(): Promise<string> {
  const fx = imaFixture(IMA_COUNT);
  const compiled = compileRuntimePolicy(fx.policy);
  const dir = await mkdtemp(join(tmpdir(), 'nw-bench-round-'));
  try {
    await writeFile(join(dir, 'policy.json'), JSON.stringify(fx.policy));
    const rows: string[][] = [];
    for (const scheme of ['rsassa', 'ecdsa'] as const) rows.push(await benchScheme(fx, compiled, scheme, dir));
    return table(['AK', 'Nodeward verifyRound rounds/s', 'Keylime checkquote + incremental process_measurement_list rounds/s', 'ratio', 'targets'], rows)
      + `\nState after ${fmt(IMA_COUNT - NEW)} entries, ${NEW} new entries, policy of ${fmt(Object.keys(fx.policy.digests).length)} paths (compiled once; Keylime's `
      + `deserialized once). Both sides check the signature, the nonce, the PCR digest, the ${NEW} template hashes against the policy and `
      + `PCR 10 (sha256 bank) replayed from the saved state. Nodeward reads the binary entries the agent serves, Keylime the ASCII lines its agent serves; `
      + `Keylime parses the AK PEM in every checkquote (its verifier does too), Nodeward's prepared AK is cached. Each Nodeward figure ≥ ${SECONDS} s, `
      + `each Keylime figure ${fmt(KEYLIME_ROUNDS)} rounds in-process; medians of ${REPEATS} interleaved repeats.\n`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
