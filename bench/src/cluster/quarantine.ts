import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeKubeletWrite } from '@nodeward/e2e';
import type { StackNode } from '@nodeward/e2e/stack';
import type * as k8s from '@kubernetes/client-node';
import type { BenchStack } from './bench-stack.js';
import { mapLimit, SELECTOR_LABEL, startBenchStack } from './bench-stack.js';
import { fmt, machine, met, quantile, secs, table } from './stats.js';

/**
 * Quarantine latency (issue 19 item 4): a Trusted node runs a binary no policy allows; its kubelet
 * identity (a client certificate CN=system:node:<name>, O=system:nodes) writes its own Node every 25 ms.
 * Two clocks stop at the first write refused by the ValidatingAdmissionPolicy: one started at the
 * violation, one at detection (the first poll, every 50 ms, showing the NodeAttestation Untrusted).
 * Then the node reboots into the clean image and a third clock runs from Trusted to the first write
 * allowed again. Nodes cycle in parallel; each violation waits a random 0..interval first.
 */

export interface QuarantineOptions { runs: number; nodes: number; intervalS: number }
interface Sample { fromViolationMs: number; fromDetectionMs: number; liftMs: number }

const PROBE_MS = 25;

/** Writes as the kubelet until one is allowed (`want` true) or refused; resolves when that answer came. */
async function writesUntil(kubelet: k8s.KubeConfig, node: string, want: boolean, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < until; i++) {
    if ((await probeKubeletWrite(kubelet, node, String(i))).allowed === want) return Date.now();
    await sleep(PROBE_MS);
  }
  throw new Error(`${node}: writes still ${want ? 'refused' : 'allowed'} after ${timeoutMs} ms`);
}

async function cycle(b: BenchStack, node: StackNode, kubelet: k8s.KubeConfig, i: number, intervalMs: number): Promise<Sample> {
  await sleep(randomInt(intervalMs));
  const t0 = Date.now();
  await node.sim.appendImaFile(`/tmp/.cache/implant-${i}`, `payload ${i}`);
  const [detected, refused] = await Promise.all([
    b.poller.until(`${node.name} Untrusted`, (v) => v.phase.get(node.name) === 'Untrusted', 60_000),
    writesUntil(kubelet, node.name, false, 60_000),
  ]);
  await node.sim.reboot();
  await node.runKnownGood();
  const trusted = await b.poller.until(`${node.name} Trusted`, (v) => v.phase.get(node.name) === 'Trusted', 120_000);
  const allowed = await writesUntil(kubelet, node.name, true, 60_000);
  return { fromViolationMs: refused - t0, fromDetectionMs: refused - detected, liftMs: allowed - trusted };
}

export async function quarantineBench(o: QuarantineOptions, progress: (s: string) => void): Promise<string> {
  const intervalMs = o.intervalS * 1000;
  const b = await startBenchStack({ interval: `${o.intervalS}s`, poll: { everyMs: 50, phases: true } });
  try {
    const names = Array.from({ length: o.nodes }, (_, i) => `quarantine-${i}`);
    const nodes = await mapLimit(names, 4, (n) => b.stack.addNode(n, { [SELECTOR_LABEL]: 'true' }));
    const kubelets = new Map(await Promise.all(names.map(async (n) => [n, (await b.stack.harness.kubeletIdentity(n)).kubeConfig] as const)));
    const samples: Sample[] = [];
    let claimed = 0;
    const t0 = Date.now();
    await Promise.all(nodes.map(async (node) => {
      const kubelet = kubelets.get(node.name)!;
      await b.poller.until(`${node.name} Trusted`, (v) => v.phase.get(node.name) === 'Trusted', 180_000);
      await writesUntil(kubelet, node.name, true, 60_000);
      while (claimed < o.runs) {
        samples.push(await cycle(b, node, kubelet, claimed++, intervalMs));
        if (samples.length % 5 === 0) progress(`${samples.length}/${o.runs} runs`);
      }
    }));
    const row = (name: string, xs: number[], target?: number): string[] => [name, secs(quantile(xs, 0.5)), secs(quantile(xs, 0.9)), secs(quantile(xs, 0.99)), secs(Math.max(...xs)),
      target === undefined ? '' : `${secs(target)}: ${met(quantile(xs, 0.99) <= target)}`];
    return [
      `Machine: ${machine()}`, '',
      `${samples.length} quarantines over ${o.nodes} swtpm nodes cycling in parallel, policy interval ${o.intervalS} s, kubelet writes every ${PROBE_MS} ms, ` +
      `NodeAttestations polled every 50 ms; ${fmt((Date.now() - t0) / 1000)} s in all.`, '',
      table(['clock', 'p50', 'p90', 'p99', 'max', 'target p99'], [
        row('violation → first write refused (includes detection: the detection bench)', samples.map((s) => s.fromViolationMs)),
        row('detection (Untrusted) → first write refused', samples.map((s) => s.fromDetectionMs), intervalMs), // "within one round of detection"
        row('Trusted again → first write allowed', samples.map((s) => s.liftMs)),
      ]),
    ].join('\n');
  } finally {
    await b.stop();
  }
}
