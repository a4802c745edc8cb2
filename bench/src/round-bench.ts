import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRuntimePolicy, verifyRound, type RoundEvidence, type RoundPolicy, type RoundState } from '@nodeward/attest';
import { createSoftAk, softQuote, type SoftAk } from '@nodeward/e2e/sim';
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

/** Keylime rounds/s for one mode, from one in-process run of KEYLIME_ROUNDS rounds; throws if Keylime rejected the round. */
async function keylimeRounds(mode: 'round' | 'verifier-round', args: (string | number)[]): Promise<number> {
  const k = await keylime(mode, args);
  if (!k.ok) throw new Error(`Keylime (${mode}) rejected the round: ${JSON.stringify(k.failures ?? [])}`);
  return k.count / k.seconds;
}

async function benchScheme(fx: ImaFixture, compiled: RoundPolicy['ima'], scheme: SoftAk['scheme'], dir: string): Promise<string[]> {
  const r = makeRound(fx, compiled, scheme);
  const v = verifyRound(r.evidence, r.policy, r.prev);
  if (!v.trusted || v.nextState.ima.count !== IMA_COUNT) throw new Error(`${scheme}: the round does not verify: ${JSON.stringify(v.failures)}`);
  const newLines = join(dir, 'new.ascii');
  await writeFile(newLines, fx.ascii.split('\n').slice(IMA_COUNT - NEW, IMA_COUNT).join('\n') + '\n');
  const f = await keylimeQuoteFiles(dir, r.quote);
  const rest = [f.quote, f.sig, f.pcrs, r.quote.nonce.toString('hex'), 'sha256', newLines, join(dir, 'policy.json'), r.stateSha256, IMA_COUNT - NEW, KEYLIME_ROUNDS];
  const nodeward = (): number => rate(() => { verifyRound(r.evidence, r.policy, r.prev); }, SECONDS);
  const verifier = await interleave(REPEATS, nodeward, () => keylimeRounds('verifier-round', [f.akTpm2b, ...rest]));
  const calls = await interleave(REPEATS, nodeward, () => keylimeRounds('round', [f.akPem, ...rest]));
  const rounds = median([...verifier.a, ...calls.a]);
  const ratio = median(verifier.ratios);
  return [scheme === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048 RSASSA', fmt(rounds), fmt(median(verifier.b)), `×${fmt(ratio, 1)}`,
    fmt(median(calls.b)), `×${fmt(median(calls.ratios), 1)}`, `≥ 10,000/s: ${met(rounds >= 10_000)}; ≥ 10× (verifier round): ${met(ratio >= 10)}`];
}

export async function roundBench(): Promise<string> {
  const fx = imaFixture(IMA_COUNT);
  const compiled = compileRuntimePolicy(fx.policy);
  const dir = await mkdtemp(join(tmpdir(), 'nw-bench-round-'));
  try {
    await writeFile(join(dir, 'policy.json'), JSON.stringify(fx.policy));
    const rows: string[][] = [];
    for (const scheme of ['rsassa', 'ecdsa'] as const) rows.push(await benchScheme(fx, compiled, scheme, dir));
    return table(['AK', 'Nodeward verifyRound rounds/s', 'Keylime Tpm.check_quote (verifier round) rounds/s', 'ratio',
      'Keylime checkquote + process_measurement_list only, rounds/s', 'ratio', 'targets'], rows)
      + `\nState after ${fmt(IMA_COUNT - NEW)} entries, ${NEW} new entries, policy of ${fmt(Object.keys(fx.policy.digests).length)} paths (compiled once; Keylime's `
      + `deserialized once). Every side checks the signature, the nonce, the PCR digest, the ${NEW} new entries' digests against the policy and `
      + `PCR 10 (sha256 bank) replayed from the saved state. Nodeward: verifyRound (also the reboot counters, the PCR selection the policy asks for, `
      + `the boot PCRs against the last verified event log), on the binary entries its agent serves, with the registered AK prepared once. `
      + `Keylime "verifier round": Tpm.check_quote, the function its verifier calls for every quote (AK from the registrar's TPM2B_PUBLIC converted `
      + `to PEM, wire quote base64-decoded, checkquote, clock check, check_pcrs with the ASCII lines its agent serves), with its logging disabled up to WARNING `
      + `(it logs several lines per quote; Nodeward's verifyRound logs nothing). Keylime "calls only": the two inner calls, checkquote(AK PEM) + process_measurement_list, as a floor for `
      + `Keylime's cost. Each Nodeward figure ≥ ${SECONDS} s (median of both series), each Keylime figure ${fmt(KEYLIME_ROUNDS)} rounds in-process; `
      + `medians of ${REPEATS} interleaved repeats per Keylime variant.\n`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
