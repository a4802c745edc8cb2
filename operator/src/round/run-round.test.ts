import { Registry } from 'prom-client';
import type { CompiledRuntimePolicy } from '@nodeward/attest';

/** runRound only checks whether the policy has IMA rules. */
const IMA = {} as CompiledRuntimePolicy;
import { marshalAttest, parseAttest, TPM_GENERATED_VALUE, TPM_ST } from '@nodeward/attest';
import type {
  ImaLogResponse, QuoteRequest, QuoteResponse, RoundEvidence, RoundPolicy, RoundRequest, RoundResponse, RoundState, RoundVerdict,
} from '@nodeward/attest';
import type { AgentClient } from '../agent-client/agent-client.js';
import { AgentError } from '../agent-client/agent-error.js';
import type { NodeStateStore, RoundContext, StoredRoundState } from '../ports.js';
import { bootPcrsDigest, IMA_INITIAL_STATE } from '@nodeward/attest';
import { RoundEndpointSupport, ROUND_REPROBE_MS } from './round-endpoint.js';
import { createRoundMetrics, type RoundMetrics } from './round-metrics.js';
import { continuedState, runRound, type RoundDeps } from './run-round.js';

const URL_ = 'https://10.0.0.5:9443';
const AK_NAME = '000b' + '11'.repeat(32);

/** A TPMS_ATTEST carrying the reset count (for the reboot hint). */
function quoted(resetCount: number): string {
  return marshalAttest({
    magic: TPM_GENERATED_VALUE, type: TPM_ST.ATTEST_TIME, qualifiedSigner: new Uint8Array(2), extraData: new Uint8Array(),
    clockInfo: { clock: 1n, resetCount, restartCount: 0, safe: true }, firmwareVersion: 0n, attested: { kind: 'other', raw: new Uint8Array(4) },
  }).toString('base64');
}

function pcrValues(seed: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: 11 }, (_, i) => [String(i), (i === 4 ? seed : i).toString(16).padStart(2, '0').repeat(32)]));
}

/**
 * An agent in memory. `calls` lists its requests in order; a round is listed with the parts it was
 * asked for, e.g. `round(quote, ima 10, eventLog)`. `fail` makes a request or a round's part throw.
 */
class FakeAgent implements AgentClient {
  calls: string[] = [];
  quotes: QuoteRequest[] = [];
  pcrs = pcrValues(4);
  resetCount = 1;
  imaTotal = 10;
  akName = AK_NAME;
  /** False: an agent from before POST /v1/round (answers it 404, as the agent's router does). */
  servesRound = true;
  fail: Partial<Record<string, AgentError>> = {};

  private check(name: string): void {
    this.calls.push(name);
    this.failIf(name);
  }

  private failIf(name: string): void {
    const e = this.fail[name.split(' ')[0]!];
    if (e !== undefined) throw e;
  }

  identity = (): Promise<never> => { this.check('identity'); return Promise.resolve({ akName: this.akName } as never); };
  activate = (): Promise<never> => Promise.reject(new Error('not used'));
  quote = (_u: string, r: QuoteRequest): Promise<QuoteResponse> => {
    this.check('quote');
    return Promise.resolve(this.quoteAnswer(r));
  };
  round = (_u: string, r: RoundRequest): Promise<RoundResponse> => {
    const parts = ['quote', ...(r.imaFrom === undefined ? [] : [`ima ${r.imaFrom}`]), ...(r.eventLog === true ? ['eventLog'] : []),
      ...(r.verity === true ? ['verity'] : [])];
    this.calls.push(`round(${parts.join(', ')})`);
    if (!this.servesRound) return Promise.reject(new AgentError('http_status', 'agent answered 404 (request.not_found)', 404, 'request.not_found'));
    this.failIf('round');
    parts.forEach((p) => this.failIf(p));
    const out: RoundResponse = { quote: this.quoteAnswer({ nonce: r.nonce, pcrSelection: r.pcrSelection }) };
    if (r.imaFrom !== undefined) out.ima = this.imaAnswer(r.imaFrom);
    if (r.eventLog === true) out.eventLog = { log: 'AQID' };
    if (r.verity === true) out.verity = { devices: [] };
    return Promise.resolve(out);
  };
  ima = (_u: string, from: number): Promise<ImaLogResponse> => {
    this.check(`ima ${from}`);
    return Promise.resolve(this.imaAnswer(from));
  };
  eventLog = (): Promise<{ log: string }> => { this.check('eventLog'); return Promise.resolve({ log: 'AQID' }); };
  verity = (): Promise<{ devices: [] }> => { this.check('verity'); return Promise.resolve({ devices: [] }); };
  putCredential = (): Promise<void> => Promise.reject(new Error('not used'));
  deleteCredential = (): Promise<void> => Promise.reject(new Error('not used'));

  private quoteAnswer(r: QuoteRequest): QuoteResponse {
    this.quotes.push(r);
    return { quoted: quoted(this.resetCount), signature: 'AAAA', pcrs: { sha256: this.pcrs } };
  }

  private imaAnswer(from: number): ImaLogResponse {
    return { from, total: this.imaTotal, entries: from > this.imaTotal ? '' : 'AAAA' };
  }
}

const POLICY_DIGEST = 'dd'.repeat(32);

class MemoryStore implements NodeStateStore {
  readonly map = new Map<string, StoredRoundState>();
  get = (n: string): Promise<StoredRoundState | undefined> => Promise.resolve(this.map.get(n));
  put = (n: string, s: StoredRoundState): Promise<void> => { this.map.set(n, s); return Promise.resolve(); };
  delete = (n: string): Promise<void> => { this.map.delete(n); return Promise.resolve(); };
}

interface Rig { deps: RoundDeps; agent: FakeAgent; store: MemoryStore; seen: RoundEvidence[]; prevs: (RoundState | undefined)[]; metrics: RoundMetrics;
  verdict: (e: RoundEvidence) => RoundVerdict; nowMs: number }

function rig(policy: Partial<RoundPolicy> = {}, ctxOverride: Partial<RoundContext> = {}): Rig {
  const agent = new FakeAgent();
  const store = new MemoryStore();
  const seen: RoundEvidence[] = [];
  const prevs: (RoundState | undefined)[] = [];
  const metrics = createRoundMetrics(new Registry());
  const fullPolicy: RoundPolicy = { akPublic: new Uint8Array(), pcrSelection: { sha256: [0, 7, 14] }, ...policy };
  const ctx: RoundContext = {
    target: { nodeName: 'node-a', policyName: 'p', agentUrl: URL_, intervalMs: 1000 }, policy: fullPolicy,
    akName: AK_NAME, ekFingerprint: 'ee'.repeat(32), policyDigest: POLICY_DIGEST, ...ctxOverride,
  };
  const r: Rig = {
    agent, store, seen, prevs, metrics, nowMs: 1_700_000_000_000,
    // A verifier that trusts everything and remembers what a real one would.
    verdict: (e) => ({
      trusted: true, failures: [], rebooted: false,
      nextState: {
        ima: { count: e.ima?.total ?? 0, pcr10: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } },
        resetCount: parseAttest(e.quote.quoted).clockInfo.resetCount,
        bootPcrsDigest: bootPcrsDigest(e.quote.pcrs)!,
      },
    }),
    deps: {
      context: (n) => (n === 'node-a' ? ctx : undefined), agent, store, metrics, now: () => new Date(r.nowMs),
      roundEndpoint: new RoundEndpointSupport(),
      verify: (e, _p, prev) => { seen.push(e); prevs.push(prev); return r.verdict(e); },
    },
  };
  return r;
}

async function resultCount(m: RoundMetrics, result: string): Promise<number> {
  return (await m.rounds.get()).values.find((v) => v.labels['result'] === result)?.value ?? 0;
}

describe('runRound', () => {
  it('sends a fresh 32-byte nonce each round and hands the same nonce to verification', async () => {
    const r = rig();
    await runRound('node-a', r.deps);
    await runRound('node-a', r.deps);
    const [a, b] = r.seen;
    expect(a!.nonce).toHaveLength(32);
    expect(Buffer.from(a!.nonce).equals(Buffer.from(b!.nonce))).toBe(false);
    expect(r.agent.quotes.map((q) => q.nonce)).toEqual(r.seen.map((e) => Buffer.from(e.nonce).toString('hex')));
  });

  it('uses the injected random source for the nonce', async () => {
    const r = rig();
    r.deps.randomBytes = (n) => new Uint8Array(n).fill(7);
    await runRound('node-a', r.deps);
    expect(r.agent.quotes[0]!.nonce).toBe('07'.repeat(32));
  });

  it('quotes the policy PCRs plus 0-9 of its bank, and 10 when IMA is configured', async () => {
    const noIma = rig();
    await runRound('node-a', noIma.deps);
    expect(noIma.agent.quotes[0]!.pcrSelection).toEqual({ sha256: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14] });
    const withIma = rig({ ima: IMA, pcrSelection: { sha1: [16], sha384: [1] } });
    await runRound('node-a', withIma.deps);
    expect(withIma.agent.quotes[0]!.pcrSelection).toEqual({ sha1: [16], sha384: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  });

  it('fetches the event log on the first round, not while boot PCRs are unchanged, and again when they change', async () => {
    const r = rig();
    await runRound('node-a', r.deps);
    await runRound('node-a', r.deps);
    r.agent.pcrs = pcrValues(0x44);
    await runRound('node-a', r.deps);
    expect(r.seen.map((e) => e.eventLog !== undefined)).toEqual([true, false, true]);
  });

  it('after a reboot fetches the event log and the IMA log from 0', async () => {
    const r = rig({ ima: IMA });
    await runRound('node-a', r.deps);
    r.agent.resetCount = 2;
    r.agent.imaTotal = 20;
    await runRound('node-a', r.deps);
    // The second round asked from 10; the quote shows the reset, so the log is read again from 0 (after the quote).
    expect(r.agent.calls).toEqual(['round(quote, ima 0, eventLog)', 'round(quote, ima 10)', 'ima 0', 'eventLog']);
    expect(r.seen[1]!.ima).toMatchObject({ from: 0, total: 20 });
    expect(r.seen[1]!.eventLog).toBeDefined();
  });

  it('re-verifies from the IMA list\'s first entry and a fresh event log when the policy changed, then continues', async () => {
    const r = rig({ ima: IMA });
    await runRound('node-a', r.deps);
    const ctx = r.deps.context('node-a')!;
    r.deps.context = (): RoundContext => ({ ...ctx, policyDigest: 'ee'.repeat(32) });
    r.agent.imaTotal = 12;
    await runRound('node-a', r.deps);
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, ima 0, eventLog)', 'round(quote, ima 0, eventLog)', 'round(quote, ima 12)']);
    // Verified against the new policy from nothing but the TPM counters and the AK.
    expect(r.prevs[1]).toEqual({ ima: IMA_INITIAL_STATE, resetCount: 1, akName: AK_NAME });
    expect(r.seen[1]!.ima).toMatchObject({ from: 0, total: 12 });
    expect(r.seen[1]!.eventLog).toBeDefined();
    expect(r.store.map.get('node-a')).toMatchObject({ policyDigest: 'ee'.repeat(32) });
  });

  it('keeps a dm-verity corruption failing for the rest of the boot, and lets it go after a reboot', async () => {
    const r = rig({ verity: { devices: [{ name: 'root', allowedRootHashes: ['ab'.repeat(32)] }] } });
    const pass = r.verdict;
    r.verdict = (e) => ({ ...pass(e), trusted: false, failures: [{ id: 'verity.corrupted', message: 'root corrupted' }] });
    expect(await runRound('node-a', r.deps)).toMatchObject({ verdict: { trusted: false } });
    expect(r.store.map.get('node-a')).toMatchObject({ verityCorruptedBoot: 1 });
    r.verdict = pass; // the agent no longer reports the corruption
    const later = await runRound('node-a', r.deps);
    expect(later).toMatchObject({ kind: 'verdict', verdict: { trusted: false } });
    expect(later?.kind === 'verdict' ? later.verdict.failures.map((f) => f.id) : []).toEqual(['verity.corrupted']);
    r.agent.resetCount = 2;
    expect(await runRound('node-a', r.deps)).toMatchObject({ verdict: { trusted: true } });
    expect(r.store.map.get('node-a')?.verityCorruptedBoot).toBeUndefined();
  });

  it('fetches IMA entries from the remembered count, and the whole log when it shrank', async () => {
    const r = rig({ ima: IMA });
    await runRound('node-a', r.deps);
    r.agent.imaTotal = 15;
    await runRound('node-a', r.deps);
    r.agent.imaTotal = 3;
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, ima 0, eventLog)', 'round(quote, ima 10)', 'round(quote, ima 15)', 'ima 0']);
    expect(r.seen[1]!.ima).toMatchObject({ from: 10, total: 15 });
    expect(r.seen[2]!.ima).toMatchObject({ from: 0, total: 3 });
    expect(r.prevs[2]!.ima.count).toBe(15);
  });

  it('makes one request per round: the quote, the new IMA entries and verity status together', async () => {
    const r = rig({ ima: IMA, verity: { devices: [{ name: 'root', allowedRootHashes: [] }] } });
    await runRound('node-a', r.deps);
    r.agent.imaTotal = 12;
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, ima 0, eventLog, verity)', 'round(quote, ima 10, verity)']);
    expect(r.seen[1]).toMatchObject({ ima: { from: 10, total: 12 }, verity: [] });
    expect(r.seen[1]!.eventLog).toBeUndefined();
    expect(Buffer.from(r.seen[1]!.nonce).toString('hex')).toBe(r.agent.quotes[1]!.nonce);
  });

  it('fetches the event log in a second request when the quote shows the boot PCRs changed', async () => {
    const r = rig({ ima: IMA });
    await runRound('node-a', r.deps);
    r.agent.pcrs = pcrValues(0x44);
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, ima 0, eventLog)', 'round(quote, ima 10)', 'eventLog']);
    expect(r.seen[1]!.eventLog).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('falls back to one request per endpoint for an agent without /v1/round, and probes it again after a while', async () => {
    const r = rig({ ima: IMA });
    r.agent.servesRound = false;
    const outcome = await runRound('node-a', r.deps);
    expect(outcome?.kind).toBe('verdict');
    r.agent.imaTotal = 12;
    r.nowMs += ROUND_REPROBE_MS - 1;
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, ima 0, eventLog)', 'quote', 'ima 0', 'eventLog', 'quote', 'ima 10']);
    expect(r.seen[1]).toMatchObject({ ima: { from: 10, total: 12 } });
    expect(r.agent.quotes.map((q) => q.nonce)).toEqual(r.seen.map((e) => Buffer.from(e.nonce).toString('hex')));
    r.agent.calls = [];
    r.agent.servesRound = true; // upgraded meanwhile
    r.nowMs += 1;
    await runRound('node-a', r.deps);
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, ima 12)', 'round(quote, ima 12)']);
  });

  it('remembers a missing /v1/round per agent URL, and does not fall back on other errors', async () => {
    const support = new RoundEndpointSupport(1000);
    support.markUnsupported('https://10.0.0.6:9443', 0);
    expect([support.supports('https://10.0.0.6:9443', 999), support.supports(URL_, 999), support.supports('https://10.0.0.6:9443', 1000)])
      .toEqual([false, true, true]);
    const r = rig();
    r.agent.fail['round'] = new AgentError('http_status', 'agent answered 503 (tpm.unavailable)', 503, 'tpm.unavailable');
    expect((await runRound('node-a', r.deps))?.kind).toBe('unreachable');
    expect(r.agent.calls).toEqual(['round(quote, eventLog)']);
    delete r.agent.fail['round'];
    await runRound('node-a', r.deps);
    expect(r.agent.calls).toEqual(['round(quote, eventLog)', 'round(quote, eventLog)']);
  });

  it('turns an answer over its byte cap into an untrusted verdict naming the evidence, not unreachable, and keeps the state', async () => {
    const tooLarge = new AgentError('too_large', 'agent answer exceeds 16777216 bytes');
    const r = rig({ ima: IMA });
    r.agent.fail['round'] = tooLarge;
    const first = await runRound('node-a', r.deps);
    expect(first?.kind === 'verdict' && { trusted: first.verdict.trusted, ids: first.verdict.failures.map((f) => f.id) })
      .toEqual({ trusted: false, ids: ['ima.log_too_large'] });
    expect(r.store.map.size).toBe(0);
    expect(await resultCount(r.metrics, 'untrusted')).toBe(1);
    // Per endpoint (an agent without POST /v1/round): the IMA list and the event log each have their id.
    const old = rig({ ima: IMA });
    old.agent.servesRound = false;
    old.agent.fail['ima'] = tooLarge;
    const ima = await runRound('node-a', old.deps);
    expect(ima?.kind === 'verdict' && ima.verdict.failures.map((f) => f.id)).toEqual(['ima.log_too_large']);
    const boot = rig();
    boot.agent.fail['round'] = tooLarge;
    const log = await runRound('node-a', boot.deps);
    expect(log?.kind === 'verdict' && log.verdict.failures.map((f) => f.id)).toEqual(['bootlog.log_too_large']);
  });

  it('asks for dm-verity status only when the policy has verity rules, and no IMA without IMA rules', async () => {
    const plain = rig();
    await runRound('node-a', plain.deps);
    expect(plain.agent.calls).toEqual(['round(quote, eventLog)']);
    const verity = rig({ verity: { devices: [{ name: 'root', allowedRootHashes: [] }] } });
    await runRound('node-a', verity.deps);
    expect(verity.agent.calls).toEqual(['round(quote, eventLog, verity)']);
    expect(verity.seen[0]!.verity).toEqual([]);
  });

  it('saves the verdict state and reports the verdict', async () => {
    const r = rig({ ima: IMA });
    const outcome = await runRound('node-a', r.deps);
    expect(outcome).toMatchObject({ kind: 'verdict', nodeName: 'node-a', policyName: 'p', at: new Date(1_700_000_000_000) });
    expect(r.store.map.get('node-a')).toEqual({ ...r.verdict(r.seen[0]!).nextState, akName: AK_NAME, policyDigest: POLICY_DIGEST });
    expect(await resultCount(r.metrics, 'trusted')).toBe(1);
  });

  it.each([
    ['round', true], ['quote', true], ['ima', true], ['eventLog', true], ['verity', true],
    ['quote', false], ['ima', false], ['eventLog', false], ['verity', false],
  ])('maps an AgentError from %s (agent serves /v1/round: %s) to unreachable and saves nothing', async (call, servesRound) => {
    const r = rig({ ima: IMA, verity: { devices: [{ name: 'root', allowedRootHashes: [] }] } });
    r.agent.servesRound = servesRound;
    r.agent.fail[call] = new AgentError('timeout', 'no answer');
    const outcome = await runRound('node-a', r.deps);
    expect(outcome).toEqual({ kind: 'unreachable', nodeName: 'node-a', policyName: 'p', at: new Date(1_700_000_000_000), error: 'timeout: no answer' });
    expect(r.seen).toHaveLength(0);
    expect(r.store.map.size).toBe(0);
    expect(await resultCount(r.metrics, 'unreachable')).toBe(1);
  });

  it('reports identity-changed when the quote is not signed by the registered AK, naming a changed AK', async () => {
    const r = rig();
    const bad = { id: 'quote.bad_signature' as const, message: 'signature does not verify with the registered AK' };
    r.verdict = (e) => ({ trusted: false, failures: [bad], rebooted: false, nextState: { ima: { count: e.ima?.total ?? 0, pcr10: { sha1: '', sha256: '' } } } });
    r.agent.akName = '000b' + '22'.repeat(32);
    const outcome = await runRound('node-a', r.deps);
    expect(outcome?.kind).toBe('identity-changed');
    expect(outcome?.kind === 'identity-changed' && outcome.failures.map((f) => f.id)).toEqual(['quote.bad_signature', 'identity.ak_changed']);
    expect(r.store.map.size).toBe(0);
    r.agent.akName = AK_NAME;
    const again = await runRound('node-a', r.deps);
    expect(again?.kind === 'identity-changed' && again.failures.map((f) => f.id)).toEqual(['quote.bad_signature']);
    expect(await resultCount(r.metrics, 'identity_changed')).toBe(2);
  });

  it('skips a node without a round context', async () => {
    const r = rig();
    expect(await runRound('node-b', r.deps)).toBeUndefined();
    expect(r.agent.calls).toEqual([]);
    expect(await resultCount(r.metrics, 'skipped')).toBe(1);
  });

  it('throws (no outcome) when the state store fails, and counts an error', async () => {
    const r = rig();
    r.store.get = (): Promise<never> => Promise.reject(new Error('redis down'));
    await expect(runRound('node-a', r.deps)).rejects.toThrow('redis down');
    expect(r.agent.calls).toEqual([]);
    expect(await resultCount(r.metrics, 'error')).toBe(1);
  });

  it('times verification and the whole round', async () => {
    const r = rig();
    await runRound('node-a', r.deps);
    expect((await r.metrics.verifySeconds.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect((await r.metrics.roundSeconds.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
  });
});

describe('continuedState', () => {
  const saved = { ima: { count: 7, pcr10: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } }, resetCount: 3, akName: 'aa' };
  it('continues the state of the same AK (and a state saved before AKs were recorded)', () => {
    expect(continuedState(saved, 'aa')).toBe(saved);
    expect(continuedState({ ...saved, akName: undefined }, 'bb')).toEqual({ ...saved, akName: undefined });
  });
  it("starts afresh for another AK: an approved identity change does not inherit the old TPM's counters and logs", () => {
    expect(continuedState(saved, 'bb')).toBeUndefined();
    expect(continuedState(undefined, 'aa')).toBeUndefined();
  });
});
