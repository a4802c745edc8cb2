import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackNode } from '@nodeward/e2e/stack';
import type { BenchStack } from './bench-stack.js';
import { mapLimit, SELECTOR_LABEL, startBenchStack } from './bench-stack.js';
import type { ClusterView } from './cluster-poller.js';
import { fmt, machine, met, quantile, secs, table } from './stats.js';

/**
 * Detection latency: a Trusted node runs a binary no policy allows (appendImaFile: an ima-ng entry
 * and the PCR 10 extension on its swtpm); the clock stops when the Node carries the untrusted taint.
 * Then the node reboots into the clean image and the cycle repeats once it is Trusted and untainted.
 * Several nodes cycle in parallel; each violation waits a random 0..interval first, so violations
 * fall at random phases of the round schedule.
 */

export interface DetectionOptions { runs: number; nodes: number; intervalS: number }
export interface DetectionResult { markdown: string; latenciesMs: number[] }

const healthy = (v: ClusterView, n: string): boolean => v.phase.get(n) === 'Trusted' && !v.tainted.has(n);

/** Why a node did not come back: its NodeAttestation's phase and last failure, as kubectl shows them. */
async function stuckReason(b: BenchStack, node: string): Promise<string> {
  const v = b.poller.latest;
  const na = JSON.parse(await b.stack.kubectl(['get', 'nodeattestation', node, '-o', 'json']).catch(() => '{}')) as
    { status?: { phase?: string; lastFailure?: { reason?: string; detail?: string } } };
  return `${node}: phase ${na.status?.phase ?? '?'}, tainted ${v.tainted.has(node)}, last failure ${na.status?.lastFailure?.reason ?? '-'} ${(na.status?.lastFailure?.detail ?? '').slice(0, 160)}`;
}

async function cycle(b: BenchStack, node: StackNode, i: number, intervalMs: number): Promise<number | undefined> {
  await sleep(randomInt(intervalMs));
  const t0 = Date.now();
  await node.sim.appendImaFile(`/tmp/.cache/miner-${i}`, `payload ${i}`);
  let latency: number | undefined;
  try {
    latency = (await b.poller.until(`${node.name} tainted`, (v) => v.tainted.has(node.name), 60_000)) - t0;
  } catch {
    latency = undefined;
  }
  await node.sim.reboot();
  await node.runKnownGood();
  return latency;
}

export async function detectionBench(o: DetectionOptions, progress: (s: string) => void): Promise<DetectionResult> {
  const intervalMs = o.intervalS * 1000;
  const b = await startBenchStack({ interval: `${o.intervalS}s`, poll: { everyMs: 50, phases: true, taints: true } });
  try {
    const names = Array.from({ length: o.nodes }, (_, i) => `detect-${i}`);
    const nodes = await mapLimit(names, 4, (n) => b.stack.addNode(n, { [SELECTOR_LABEL]: 'true' }));
    const latencies: number[] = [];
    const stuck: string[] = [];
    let missed = 0;
    let claimed = 0;
    const t0 = Date.now();
    await Promise.all(nodes.map(async (node) => {
      while (claimed < o.runs) {
        try {
          await b.poller.until(`${node.name} healthy`, (v) => healthy(v, node.name), 120_000);
        } catch {
          stuck.push(await stuckReason(b, node.name));
          progress(`node left the pool: ${stuck[stuck.length - 1]}`);
          return;
        }
        // Claimed after the wait: several nodes may have passed the loop test for the last run.
        if (claimed >= o.runs) return;
        const i = claimed++;
        const ms = await cycle(b, node, i, intervalMs);
        if (ms === undefined) missed++;
        else latencies.push(ms);
        if ((latencies.length + missed) % 10 === 0) progress(`${latencies.length + missed}/${o.runs} runs`);
      }
    }));
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    const target = intervalMs + 500;
    const markdown = [
      `Machine: ${machine()}`, '',
      `${latencies.length} detections (${missed} not tainted within 60 s) over ${o.nodes} swtpm nodes cycling in parallel, policy interval ${o.intervalS} s, ` +
      `cluster polled every 50 ms; ${fmt((Date.now() - t0) / 1000)} s in all.`, '',
      ...(stuck.length === 0 ? [] : [`Nodes that did not return to Trusted + untainted within 120 s after reboot (left the pool): ${stuck.length}`, '', ...stuck.map((s) => `- ${s}`), '']),
      table(['p50', 'p90', 'p99', 'max', 'p50 / interval', 'p99 / interval', `target p99 ≤ interval + 0.5 s = ${secs(target)}`], [[
        secs(p50), secs(quantile(latencies, 0.9)), secs(p99), secs(Math.max(...latencies)),
        `${fmt(p50 / intervalMs, 2)}×`, `${fmt(p99 / intervalMs, 2)}×`, met(missed === 0 && p99 <= target),
      ]]),
    ].join('\n');
    return { markdown, latenciesMs: latencies };
  } finally {
    await b.stop();
  }
}
