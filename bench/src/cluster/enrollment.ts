import type { BenchStack } from './bench-stack.js';
import { mapLimit, setSelected, startBenchStack } from './bench-stack.js';
import { trustedWithCredential } from './cluster-poller.js';
import { fmt, machine, median, met, quantile, secs, table } from './stats.js';

/**
 * Enrollment: a node's swtpm is manufactured and its agent started while its Node object does not
 * match the policy; the clock starts when the agent listens and the node is labelled into the policy
 * at once (the agent DaemonSet pod becoming ready on a joined node); it stops when the NodeAttestation
 * is Trusted and the credential Secret exists. Registration = identity, EK chain, MakeCredential /
 * ActivateCredential on the swtpm, first round (quote, IMA, boot log, dm-verity), credential issued.
 */

export interface EnrollmentOptions { singles: number; batches: number[]; intervalS: number }

const KEYLIME_K8S_AVG_S = 20.91;

async function join(b: BenchStack, names: string[]): Promise<number[]> {
  await mapLimit(names, 4, (n) => b.stack.addNode(n, {}));
  const t0 = Date.now();
  await Promise.all(names.map((n) => setSelected(b.core, n, true)));
  const done = await Promise.all(names.map((n) => b.poller.until(`${n} Trusted with a credential`, (v) => trustedWithCredential(v, n), 180_000)));
  return done.map((t) => t - t0);
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
    const warm = await join(b, ['warmup-0']);
    await retire(b, ['warmup-0']);
    const singles: number[] = [];
    for (let i = 0; i < o.singles; i++) {
      const [ms] = await join(b, [`single-${i}`]);
      singles.push(ms!);
      progress(`single join ${i}: ${ms} ms`);
      await retire(b, [`single-${i}`]);
    }
    const batchRows: string[][] = [];
    for (const n of o.batches) {
      const names = Array.from({ length: n }, (_, i) => `batch${n}-${i}`);
      const ms = await join(b, names);
      progress(`batch of ${n}: max ${Math.max(...ms)} ms`);
      batchRows.push([String(n), secs(median(ms)), secs(quantile(ms, 0.9)), secs(Math.max(...ms)), n >= 50 ? met(Math.max(...ms) <= 5000) : 'target is for 50']);
      await retire(b, names);
    }
    return [
      `Machine: ${machine()}`, '',
      `Policy interval ${o.intervalS} s (a newly scheduled node gets its first round at once; later rounds follow its jittered slot).`, '',
      `Warm-up join (operator just started, excluded): ${secs(warm[0]!)}`, '',
      `### Single-node joins (${o.singles}, one at a time)`, '',
      table(['joins', 'median', 'min', 'max', 'each', 'target ≤ 1 s (median)'], [[
        String(singles.length), secs(median(singles)), secs(Math.min(...singles)), secs(Math.max(...singles)),
        singles.map((s) => fmt(s / 1000, 2)).join(', '), met(median(singles) <= 1000),
      ]]),
      '### N nodes joining at once (all labelled in the same instant)', '',
      table(['N', 'median', 'p90', 'all Trusted (max)', 'target ≤ 5 s for 50'], batchRows),
      `Comparison: published Keylime-based Kubernetes enrollment averages ${KEYLIME_K8S_AVG_S} s per node.`, '',
    ].join('\n');
  } finally {
    await b.stop();
  }
}
