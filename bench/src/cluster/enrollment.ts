import type { BenchStack } from './bench-stack.js';
import { mapLimit, setSelected, startBenchStack } from './bench-stack.js';
import { trustedWithCredential } from './cluster-poller.js';
import { profileReport, snapshot } from './cpu-profile.js';
import { label, scrape, type Samples } from './prom.js';
import { fmt, machine, median, met, quantile, secs, table } from './stats.js';

/**
 * Enrollment: a node's swtpm is manufactured while its Node object does not match the policy. The
 * clock starts when its agent starts (opening the TPM: EK, and on a new TPM creating and persisting
 * the AK); when the agent listens the node is labelled into the policy (the agent DaemonSet pod
 * becoming ready on a joined node); the clock stops when the NodeAttestation is Trusted and the
 * credential Secret exists. Registration = identity, EK chain, MakeCredential / ActivateCredential on
 * the swtpm, first round (quote, IMA, boot log, dm-verity), credential issued.
 */

export interface EnrollmentOptions { singles: number; batches: number[]; intervalS: number }

const KEYLIME_K8S_AVG_S = 20.91;

/** One node's join: from agent start to Trusted with a credential, and the agent start (TPM open) part of it. */
interface Join { totalMs: number; agentMs: number }

/** Single joins: the clock starts with the agent (its TPM open included), the node is labelled when it listens. */
async function join(b: BenchStack, names: string[]): Promise<Join[]> {
  const nodes = await mapLimit(names, 4, (n) => b.stack.addNode(n, {}, { startAgent: false }));
  const t0 = Date.now();
  return Promise.all(nodes.map(async (node) => {
    await node.startAgent();
    const agentMs = Date.now() - t0;
    const trusted = b.poller.until(`${node.name} Trusted with a credential`, (v) => trustedWithCredential(v, node.name), 180_000);
    await setSelected(b.core, node.name, true);
    return { totalMs: (await trusted) - t0, agentMs };
  }));
}

/**
 * N at once: every agent is already listening (on real nodes each starts on its own CPU and TPM; here
 * they would share two cores), then all N are labelled in the same instant; the clock runs from there.
 */
async function joinAtOnce(b: BenchStack, names: string[]): Promise<{ ms: number[]; profile: string }> {
  await mapLimit(names, 4, (n) => b.stack.addNode(n, {}));
  const before = await snapshot(b.stack.harness.kubeConfig);
  const rounds0 = await scrape(b.operator.httpPort);
  const t0 = Date.now();
  const trusted = names.map((n) => b.poller.until(`${n} Trusted with a credential`, (v) => trustedWithCredential(v, n), 180_000));
  await Promise.all(names.map((n) => setSelected(b.core, n, true)));
  const ms = (await Promise.all(trusted)).map((t) => t - t0);
  const after = await snapshot(b.stack.harness.kubeConfig);
  const rounds = roundsByResult(rounds0, await scrape(b.operator.httpPort));
  return { ms, profile: `${profileReport(before, after, (Date.now() - t0) / 1000, names.length)}\nOperator rounds in the window by result: ${rounds}.\n` };
}

/**
 * `nodeward_rounds_total` between two scrapes, by result. A skipped round found no round context
 * (e.g. the node's registered AK not yet visible to the round): its node waits for its next tick.
 */
export function roundsByResult(a: Samples, b: Samples): string {
  const out: string[] = [];
  for (const [key, v] of b) {
    if (!key.startsWith('nodeward_rounds_total{')) continue;
    const d = v - (a.get(key) ?? 0);
    if (d > 0) out.push(`${label(key, 'result')} ${d}`);
  }
  return out.length === 0 ? 'none' : out.join(', ');
}

/** Takes the nodes out of the policy and stops their agents and swtpms, so they load the next phase no more. */
async function retire(b: BenchStack, names: string[]): Promise<void> {
  await Promise.all(names.map((n) => setSelected(b.core, n, false)));
  await Promise.all(names.map(async (n) => {
    const node = b.stack.nodes.get(n)!;
    await node.stopAgent();
    await node.sim.stop();
    b.stack.nodes.delete(n);
  }));
}

export async function enrollmentBench(o: EnrollmentOptions, progress: (s: string) => void): Promise<string> {
  const b = await startBenchStack({ interval: `${o.intervalS}s`, poll: { everyMs: 50, phases: true, credentials: true } });
  try {
    progress('stack up; warm-up join');
    const [warm] = await join(b, ['warmup-0']);
    await retire(b, ['warmup-0']);
    const singles: Join[] = [];
    for (let i = 0; i < o.singles; i++) {
      const [j] = await join(b, [`single-${i}`]);
      singles.push(j!);
      progress(`single join ${i}: ${j!.totalMs} ms (agent start ${j!.agentMs} ms)`);
      await retire(b, [`single-${i}`]);
    }
    const batchRows: string[][] = [];
    const profiles: string[] = [];
    for (const n of o.batches) {
      const names = Array.from({ length: n }, (_, i) => `batch${n}-${i}`);
      const { ms, profile } = await joinAtOnce(b, names);
      profiles.push(`#### ${n} at once: from labelling until all ${n} are Trusted with credentials`, '', profile);
      progress(`batch of ${n}: max ${Math.max(...ms)} ms`);
      const agentAlone = median(singles.map((j) => j.agentMs));
      batchRows.push([String(n), secs(median(ms)), secs(quantile(ms, 0.9)), secs(Math.max(...ms)), secs(Math.max(...ms) + agentAlone),
        n >= 50 ? met(Math.max(...ms) + agentAlone <= 5000) : 'target is for 50']);
      await retire(b, names);
    }
    const total = singles.map((j) => j.totalMs);
    return [
      `Machine: ${machine()}`, '',
      `Policy interval ${o.intervalS} s (a newly scheduled node gets its first round at once; later rounds follow its jittered slot).`, '',
      `Warm-up join (operator just started, excluded): ${secs(warm!.totalMs)}`, '',
      `### Single-node joins (${o.singles}, one at a time)`, '',
      table(['joins', 'median', 'min', 'max', 'each', 'of which agent start (median)', 'target ≤ 1 s (median)'], [[
        String(singles.length), secs(median(total)), secs(Math.min(...total)), secs(Math.max(...total)),
        total.map((s) => fmt(s / 1000, 2)).join(', '), secs(median(singles.map((j) => j.agentMs))), met(median(total) <= 1000),
      ]]),
      '### N nodes joining at once (agents already listening, all N labelled in the same instant)', '',
      'The agents start before the clock: on real nodes each opens its own TPM on its own CPU, here all N would share two cores.',
      'The last column adds the median agent start measured alone (single joins) to the slowest node.', '',
      table(['N', 'median', 'p90', 'all Trusted with credentials (max)', 'max + agent start alone', 'target ≤ 5 s for 50'], batchRows),
      '### Where the CPU and the API writes went (N at once)', '', ...profiles,
      `Comparison: published Keylime-based Kubernetes enrollment averages ${KEYLIME_K8S_AVG_S} s per node.`, '',
    ].join('\n');
  } finally {
    await b.stop();
  }
}
