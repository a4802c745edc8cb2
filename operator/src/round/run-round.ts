import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { failure, imaResumePoint, roundImaBank } from '@nodeward/attest';
import type { Failure, RoundEvidence, RoundState, RoundVerdict } from '@nodeward/attest';
import type { AgentClient } from '../agent-client/agent-client.js';
import { AgentError } from '../agent-client/agent-error.js';
import type { NodeStateStore, RoundContext, RoundContextProvider, RoundOutcome } from '../ports.js';
import { needsEventLog, quoteSelection, readClockHint, rebootedSince, type QuotedPcrs } from './boot-pcrs.js';
import { defaultRoundMetrics, type RoundMetrics, type RoundResult } from './round-metrics.js';
import { verifyRound, type VerifyRoundFn } from './verify-round.js';

export const NONCE_BYTES = 32;

/** Quote failures meaning the quote was not signed by the registered AK. */
const IMPERSONATION = new Set<string>(['quote.bad_signature', 'quote.wrong_signing_key']);

export interface RoundDeps {
  context: RoundContextProvider;
  agent: AgentClient;
  store: NodeStateStore;
  /** Default: attest's verifyRound. */
  verify?: VerifyRoundFn;
  /** Default: () => new Date(). */
  now?: () => Date;
  /** Default: node:crypto randomBytes. */
  randomBytes?: (n: number) => Uint8Array;
  /** Default: the metrics on prom-client's default register. */
  metrics?: RoundMetrics;
}

const b64 = (s: string): Uint8Array => Buffer.from(s, 'base64');

/**
 * One attestation round for a node: quote with a fresh nonce, the IMA entries since the last round,
 * the boot event log when boot PCRs changed, dm-verity status when the policy has rules; then
 * verifyRound and save the next state. Undefined when the node has no round context (skipped).
 * Agent failures become `unreachable`; a quote not signed by the registered AK `identity-changed`.
 * Other errors (Redis, a verifier bug) throw: no outcome is reported for them.
 */
export async function runRound(nodeName: string, deps: RoundDeps): Promise<RoundOutcome | undefined> {
  const metrics = deps.metrics ?? defaultRoundMetrics();
  const ctx = deps.context(nodeName);
  if (ctx === undefined) {
    metrics.rounds.inc({ result: 'skipped' });
    return undefined;
  }
  const endRound = metrics.roundSeconds.startTimer();
  let result: RoundResult = 'error';
  try {
    const outcome = await attestOnce(ctx, deps, metrics);
    result = resultOf(outcome);
    return outcome;
  } finally {
    metrics.rounds.inc({ result });
    endRound();
  }
}

async function attestOnce(ctx: RoundContext, deps: RoundDeps, metrics: RoundMetrics): Promise<RoundOutcome> {
  const { nodeName, policyName } = ctx.target;
  const at = (deps.now ?? ((): Date => new Date()))();
  const prev = continuedState(await deps.store.get(nodeName), ctx.akName);
  let evidence: RoundEvidence;
  try {
    evidence = await collectEvidence(ctx, prev, deps);
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    return { kind: 'unreachable', nodeName, policyName, at, error: `${e.code}: ${e.message}` };
  }
  const endVerify = metrics.verifySeconds.startTimer();
  const verdict = await (deps.verify ?? verifyRound)(evidence, ctx.policy, prev);
  endVerify();
  if (verdict.failures.some((f) => IMPERSONATION.has(f.id))) {
    return { kind: 'identity-changed', nodeName, policyName, at, failures: await identityFailures(ctx, deps.agent, verdict), akName: ctx.akName };
  }
  await deps.store.put(nodeName, { ...verdict.nextState, akName: ctx.akName });
  return { kind: 'verdict', nodeName, policyName, at, verdict, akName: ctx.akName };
}

/**
 * The saved state continues only for the AK it was verified with: after an approved identity change
 * (or a re-provisioned node) the new TPM's counters and logs start a fresh full verification.
 */
export function continuedState(saved: RoundState | undefined, akName: string): RoundState | undefined {
  return saved?.akName === undefined || saved.akName === akName ? saved : undefined;
}

/** Fetches this round's evidence from the agent. Throws AgentError on any transport or shape failure. */
async function collectEvidence(ctx: RoundContext, prev: RoundState | undefined, deps: RoundDeps): Promise<RoundEvidence> {
  const url = ctx.target.agentUrl;
  const nonce = (deps.randomBytes ?? nodeRandomBytes)(NONCE_BYTES);
  const selection = quoteSelection(ctx.policy);
  const q = await deps.agent.quote(url, { nonce: Buffer.from(nonce).toString('hex'), pcrSelection: selection });
  const pcrs: QuotedPcrs = {};
  for (const [bank, values] of Object.entries(q.pcrs)) {
    pcrs[bank as keyof QuotedPcrs] = Object.fromEntries(Object.entries(values).map(([i, hex]) => [i, Buffer.from(hex, 'hex')]));
  }
  const evidence: RoundEvidence = { nonce, quote: { quoted: b64(q.quoted), signature: b64(q.signature), pcrs } };
  const clock = readClockHint(evidence.quote.quoted);
  if (ctx.policy.ima !== undefined) {
    evidence.ima = await fetchIma(deps.agent, url, rebootedSince(prev, clock) ? 0 : imaResumePoint(prev, roundImaBank(selection)));
  }
  if (needsEventLog(pcrs, prev, clock)) evidence.eventLog = b64((await deps.agent.eventLog(url)).log);
  if ((ctx.policy.verity?.devices.length ?? 0) > 0) evidence.verity = (await deps.agent.verity(url)).devices;
  return evidence;
}

/**
 * IMA entries from `from`. When the agent reports fewer entries than that, the log shrank: fetch it
 * all from 0 and let verification judge (a shrinking log without a reboot is tampering).
 */
async function fetchIma(agent: AgentClient, url: string, from: number): Promise<NonNullable<RoundEvidence['ima']>> {
  let r = await agent.ima(url, from);
  if (r.total < from) r = await agent.ima(url, 0);
  return { from: r.from, total: r.total, entries: b64(r.entries) };
}

/** The verdict's failures, plus `identity.ak_changed` when the agent now reports another AK. */
async function identityFailures(ctx: RoundContext, agent: AgentClient, verdict: RoundVerdict): Promise<Failure[]> {
  try {
    const id = await agent.identity(ctx.target.agentUrl);
    if (id.akName === ctx.akName) return verdict.failures;
    return [...verdict.failures, failure('identity.ak_changed', 'the agent reports an AK other than the registered one',
      { registered: ctx.akName, reported: id.akName })];
  } catch (e) {
    if (e instanceof AgentError) return verdict.failures;
    throw e;
  }
}

function resultOf(o: RoundOutcome): RoundResult {
  if (o.kind === 'verdict') return o.verdict.trusted ? 'trusted' : 'untrusted';
  return o.kind === 'unreachable' ? 'unreachable' : 'identity_changed';
}
