#!/usr/bin/env node
// @peculiar/x509 (through @nodeward/attest) needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { agentMemoryBench } from './agent-memory.js';
import { imaBench } from './ima-bench.js';
import { policySizeBench } from './policy-size-bench.js';
import { quoteBench } from './quote-bench.js';
import { roundBench } from './round-bench.js';
import { tpmOpsBench } from './tpm-ops.js';
import { machine } from './timing.js';

/**
 * `node bench/dist/main.js [quote|ima|round|agent-memory|policy-size|tpm-ops]`: no argument runs the core suite (quote,
 * ima, round). Prints Markdown (the tables of bench/RESULTS.md); asserts no timing.
 */

const suites: Record<string, { title: string; run: () => Promise<string> }> = {
  quote: { title: '1. Quote verification throughput (one core)', run: quoteBench },
  ima: { title: '2. IMA: 100,000-entry list, full replay + policy', run: imaBench },
  round: { title: '3. Incremental round', run: roundBench },
  'agent-memory': { title: '4. Agent memory under 10,000 quote requests (swtpm)', run: agentMemoryBench },
  'policy-size': { title: 'Runtime policy of real size (200,000 files) through the operator', run: policySizeBench },
  'tpm-ops': { title: "The agent's TPM operations: commands from Node against tpm2-tools (swtpm)", run: tpmOpsBench },
};
const CORE = ['quote', 'ima', 'round'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = args.length === 0 ? CORE : args;
  const unknown = names.filter((n) => suites[n] === undefined);
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; one of ${Object.keys(suites).join(', ')}`);
  process.stdout.write(`Command: node bench/dist/main.js ${args.join(' ')}\nMachine: ${machine()}\n\n`);
  for (const name of names) {
    const s = suites[name]!;
    const t0 = performance.now();
    process.stdout.write(`## ${s.title}\n\n${await s.run()}\n(${((performance.now() - t0) / 1000).toFixed(0)} s)\n\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
