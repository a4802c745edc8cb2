import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { bootChanged, failure, imaResumePoint, QUOTE_FAILURE_IDS, readBootCountersHint, roundImaBank } from '@nodeward/attest';
import type {
  BankName, EvidenceBoundKind, Failure, FailureId, ImaLogResponse, PcrValues, QuoteResponse, RoundEvidence, RoundPolicy, RoundRequest, RoundResponse, RoundState, RoundVerdict,
} from '@nodeward/attest';
import type { AgentClient } from '../agent-client/agent-client.js';
import { AgentError } from '../agent-client/agent-error.js';
import type { NodeStateStore, RoundContext, RoundContextProvider, RoundOutcome, StoredRoundState } from '../ports.js';
import { needsEventLog, quoteSelection } from './boot-pcrs.js';
import { bounded, EvidenceTooLarge, tooLargeVerdict } from './evidence-too-large.js';
import { stateForPolicy } from './policy-change.js';
import { isMissingEndpoint, RoundEndpointSupport } from './round-endpoint.js';
import { defaultRoundMetrics, type RoundMetrics, type RoundResult } from './round-metrics.js';
import { withStickyVerity } from './sticky-verity.js';
import { verifyRound, type VerifyRoundFn } from './verify-round.js';

export const NONCE_BYTES = 32;

/** Quote failures meaning the quote was not signed by the registered AK. */
const IMPERSONATION = new Set<FailureId>([QUOTE_FAILURE_IDS.BadSignature, QUOTE_FAILURE_IDS.WrongSigningKey]);

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
  /** Which agents lack POST /v1/round. Default: one shared by every round of this process. */
  roundEndpoint?: RoundEndpointSupport;
}

const sharedRoundEndpoint = new RoundEndpointSupport();

const b64 = (s: string): Uint8Array => Buffer.from(s, 'base64');

/**
 * One attestation round for a node: quote with a fresh nonce, the IMA entries since the last round,
 * the boot event log when boot PCRs changed, dm-verity status when the policy has rules (all in one
 * POST /v1/round, or per endpoint for an agent without it); then
 * verifyRound and save the next state. Undefined when the node has no round context (skipped).
 * Agent failures become `unreachable`, except an answer over its byte cap: an untrusted verdict with
 * `ima.log_too_large` (or the like, see EvidenceTooLarge); a quote not signed by the registered AK `identity-changed`.
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
  const saved = continuedState(await deps.store.get(nodeName), ctx.akName);
  const prev = stateForPolicy(saved, ctx.policyDigest);
  let evidence: RoundEvidence;
  try {
    evidence = await collectEvidence(ctx, prev, deps, at.getTime());
  } catch (e) {
    if (e instanceof EvidenceTooLarge) return { kind: 'verdict', nodeName, policyName, at, verdict: tooLargeVerdict(e, prev), akName: ctx.akName };
    if (!(e instanceof AgentError)) throw e;
    return { kind: 'unreachable', nodeName, policyName, at, error: `${e.code}: ${e.message}` };
  }
  const endVerify = metrics.verifySeconds.startTimer();
  const raw = await (deps.verify ?? verifyRound)(evidence, ctx.policy, prev);
  endVerify();
  if (raw.failures.some((f) => IMPERSONATION.has(f.id))) {
    return { kind: 'identity-changed', nodeName, policyName, at, failures: await identityFailures(ctx, deps.agent, raw), akName: ctx.akName };
  }
  const { verdict, corruptedBoot } = withStickyVerity(raw, prev, prev?.verityCorruptedBoot);
  await deps.store.put(nodeName, nextStoredState(verdict, ctx, prev, corruptedBoot));
  return { kind: 'verdict', nodeName, policyName, at, verdict, akName: ctx.akName };
}

/**
 * What to save after a round: the verdict's next state, the AK, the sticky verity corruption, and the
 * policy digest once a round passed under it (until then, every round re-verifies from the start).
 */
function nextStoredState(verdict: RoundVerdict, ctx: RoundContext, prev: StoredRoundState | undefined, corruptedBoot: number | undefined): StoredRoundState {
  const next: StoredRoundState = { ...verdict.nextState, akName: ctx.akName };
  const digest = verdict.trusted ? ctx.policyDigest : prev?.policyDigest;
  if (digest !== undefined) next.policyDigest = digest;
  if (corruptedBoot !== undefined) next.verityCorruptedBoot = corruptedBoot;
  return next;
}

/**
 * The saved state continues only for the AK it was verified with: after an approved identity change
 * (or a re-provisioned node) the new TPM's counters and logs start a fresh full verification.
 */
export function continuedState<S extends RoundState>(saved: S | undefined, akName: string): S | undefined {
  return saved?.akName === undefined || saved.akName === akName ? saved : undefined;
}

/** Fetches this round's evidence from the agent. Throws AgentError on any transport or shape failure. */
async function collectEvidence(ctx: RoundContext, prev: RoundState | undefined, deps: RoundDeps, nowMs: number): Promise<RoundEvidence> {
  const nonce = (deps.randomBytes ?? nodeRandomBytes)(NONCE_BYTES);
  const request = roundRequest(ctx.policy, prev, Buffer.from(nonce).toString('hex'));
  const answer = await askRound(deps, ctx.target.agentUrl, request, nowMs);
  return completeEvidence(ctx.target.agentUrl, deps.agent, { nonce, prev, request, answer });
}

/**
 * What to ask for up front: the IMA entries from the saved count, the event log when there is no
 * verified boot state yet (first round), dm-verity status when the policy has rules.
 */
function roundRequest(policy: RoundPolicy, prev: RoundState | undefined, nonce: string): RoundRequest {
  const pcrSelection = quoteSelection(policy);
  return {
    nonce, pcrSelection,
    ...(policy.ima !== undefined && { imaFrom: imaResumePoint(prev, roundImaBank(pcrSelection)) }),
    ...(prev?.bootPcrsDigest === undefined && { eventLog: true }),
    ...((policy.verity?.devices.length ?? 0) > 0 && { verity: true }),
  };
}

/**
 * POST /v1/round, or just the quote from an agent that lacks it (404, remembered for a while):
 * completeEvidence then fetches the rest per endpoint.
 */
async function askRound(deps: RoundDeps, url: string, request: RoundRequest, nowMs: number): Promise<RoundResponse> {
  const support = deps.roundEndpoint ?? sharedRoundEndpoint;
  if (support.supports(url, nowMs)) {
    try {
      return await bounded(roundAnswerKind(request), () => deps.agent.round(url, request));
    } catch (e) {
      if (!isMissingEndpoint(e)) throw e;
      support.markUnsupported(url, nowMs);
    }
  }
  return { quote: await bounded('AnswerTooLarge', () => deps.agent.quote(url, { nonce: request.nonce, pcrSelection: request.pcrSelection })) };
}

/** What an oversized round answer is blamed on: the IMA list when asked for (the bulk), else the event log. */
function roundAnswerKind(request: RoundRequest): EvidenceBoundKind {
  if (request.imaFrom !== undefined) return 'ImaLogTooLarge';
  return request.eventLog === true ? 'EventLogTooLarge' : 'AnswerTooLarge';
}

interface Asked { nonce: Uint8Array; prev: RoundState | undefined; request: RoundRequest; answer: RoundResponse }

/**
 * The evidence from the answer, fetching per endpoint (after the quote) what it lacks: the IMA list
 * from 0 after a reboot or when it shrank, the event log when the boot PCRs changed.
 */
async function completeEvidence(url: string, agent: AgentClient, a: Asked): Promise<RoundEvidence> {
  const quote = quoteEvidence(a.answer.quote);
  const evidence: RoundEvidence = { nonce: a.nonce, quote };
  const clock = readBootCountersHint(quote.quoted);
  const asked = a.request.imaFrom;
  if (asked !== undefined) {
    const from = bootChanged(a.prev?.resetCount, clock?.resetCount) ? 0 : asked;
    evidence.ima = await completeIma(agent, url, from === asked ? a.answer.ima : undefined, from);
  }
  if (needsEventLog(quote.pcrs, a.prev, clock)) evidence.eventLog = b64((a.answer.eventLog ?? await bounded('EventLogTooLarge', () => agent.eventLog(url))).log);
  if (a.request.verity === true) evidence.verity = (a.answer.verity ?? await bounded('AnswerTooLarge', () => agent.verity(url))).devices;
  return evidence;
}

/** The quote of an answer as round evidence (PCR values hex → bytes). */
export function quoteEvidence(q: QuoteResponse): RoundEvidence['quote'] {
  const pcrs: PcrValues = {};
  for (const [bank, values] of Object.entries(q.pcrs)) {
    pcrs[bank as BankName] = Object.fromEntries(Object.entries(values).map(([i, hex]) => [i, Buffer.from(hex, 'hex')]));
  }
  return { quoted: b64(q.quoted), signature: b64(q.signature), pcrs };
}

/**
 * IMA entries from `from`: `got` (the round's, read from there) or fetched. When the agent reports
 * fewer entries than `from`, the log shrank: fetch it all from 0 and let verification judge (a
 * shrinking log without a reboot is tampering).
 */
async function completeIma(agent: AgentClient, url: string, got: ImaLogResponse | undefined, from: number): Promise<NonNullable<RoundEvidence['ima']>> {
  let r = got ?? await bounded('ImaLogTooLarge', () => agent.ima(url, from));
  if (r.total < from) r = await bounded('ImaLogTooLarge', () => agent.ima(url, 0));
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
