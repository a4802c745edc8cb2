import { createHash, randomBytes } from 'node:crypto';
import { createSoftAk, softExtend, softQuote } from '../../../e2e/src/sim/soft-tpm.js';
import type { PcrValues } from '../pcr.js';
import { compileRuntimePolicy, createRuntimePolicy, parseImaBinaryLog } from '../index.js';
import { encodeImaNgEntry, type EncodedImaEntry } from '../testing/index.js';
import { EVIDENCE_BOUND_FAILURE_IDS, IMA_MAX_UNCOVERED_BYTES } from './evidence-bounds.js';
import type { RoundEvidence, RoundPolicy } from './round-types.js';
import { verifyRound } from './verify-round.js';

const ak = createSoftAk('rsassa');
const entry = (path: string): EncodedImaEntry => encodeImaNgEntry({ path, fileDigest: createHash('sha256').update(path).digest() });

/** A node whose quote covers `covered`; the agent then serves `tail` after them (never measured into PCR 10). */
function evidence(covered: EncodedImaEntry[], tail: EncodedImaEntry[]): RoundEvidence {
  let pcr10: Uint8Array = Buffer.alloc(32);
  for (const e of covered) pcr10 = softExtend('sha256', pcr10, createHash('sha256').update(e.hashInput).digest());
  const pcrs: PcrValues = { sha256: { '10': pcr10 } };
  const nonce = randomBytes(32);
  const { quoted, signature } = softQuote(ak, nonce, pcrs);
  const all = [...covered, ...tail];
  return { nonce, quote: { quoted, signature, pcrs }, ima: { from: 0, total: all.length, entries: Buffer.concat(all.map((e) => e.bytes)) } };
}

const paths = ['/usr/bin/kubelet', '/usr/bin/containerd'];
const policy: RoundPolicy = {
  akPublic: ak.publicArea, pcrSelection: { sha256: [10] },
  ima: compileRuntimePolicy(createRuntimePolicy(parseImaBinaryLog(Buffer.concat(paths.map((p) => entry(p).bytes))))),
};
const ids = (v: { failures: { id: string }[] }): string[] => v.failures.map((f) => f.id);

describe('evidence bounds: IMA entries the quote never covers', () => {
  const covered = paths.map(entry);

  it('accepts the short tail an honest agent serves (entries measured between its quote and its read)', () => {
    const v = verifyRound(evidence(covered, [entry('/usr/bin/late-1'), entry('/usr/bin/late-2')]), policy, undefined);
    expect(ids(v)).toEqual([]);
    expect(v.nextState.ima.count).toBe(2);
  });

  it('fails a round serving more than IMA_MAX_UNCOVERED_BYTES past the quoted prefix, with its own id, and does not advance', () => {
    const one = entry('/usr/bin/padding-never-covered');
    const tail = Array.from({ length: Math.ceil(IMA_MAX_UNCOVERED_BYTES / one.bytes.length) + 1 }, () => one);
    const v = verifyRound(evidence(covered, tail), policy, undefined);
    expect(ids(v)).toEqual([EVIDENCE_BOUND_FAILURE_IDS.ImaEntriesNotCovered]);
    expect(v.failures[0]?.context).toMatchObject({ uncoveredBytes: tail.length * one.bytes.length, limit: IMA_MAX_UNCOVERED_BYTES });
    expect(v.trusted).toBe(false);
    expect(v.nextState.ima.count).toBe(0);
  });

  it('has one id per bound, each in its component', () => {
    expect(EVIDENCE_BOUND_FAILURE_IDS).toEqual({
      ImaLogTooLarge: 'ima.log_too_large', ImaEntriesNotCovered: 'ima.entries_not_covered',
      EventLogTooLarge: 'bootlog.log_too_large', AnswerTooLarge: 'agent.answer_too_large',
    });
  });
});
