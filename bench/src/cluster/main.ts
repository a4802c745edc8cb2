#!/usr/bin/env node
// @peculiar/x509 (through @nodeward/attest) needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { connectionsBench } from './connections.js';
import { detectionBench } from './detection.js';
import { enrollmentBench } from './enrollment.js';
import { failoverBench } from './failover.js';
import { joinBench } from './join.js';
import { histogramPng, resultsDir } from './plots.js';
import { quarantineBench } from './quarantine.js';
import { scaleBench, scalePlot } from './scale.js';

/**
 * `node bench/dist/cluster/main.js <enrollment|detection|quarantine|scale|failover|connections> [options]`: cluster benchmarks on the
 * real stack (kube-apiserver + etcd + Redis + operator process). Prints Markdown; asserts no timing.
 */

const numbers = (s: string): number[] => s.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const progress = (s: string): void => { process.stderr.write(`[${new Date().toISOString()}] ${s}\n`); };

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      singles: { type: 'string', default: '5' }, batches: { type: 'string', default: '10,20' },
      runs: { type: 'string', default: '100' }, nodes: { type: 'string' }, interval: { type: 'string' },
      window: { type: 'string', default: '90' }, rounds: { type: 'string', default: '3' }, repeats: { type: 'string', default: '3' }, ak: { type: 'string', default: 'rsassa' }, 'enroll-timeout': { type: 'string', default: '1800' },
      // No default: scale runs 1 replica unless told, failover 3.
      replicas: { type: 'string' },
    },
  });
  const which = positionals[0] ?? '';
  const intervalS = (fallback: string): number => Number(values.interval ?? fallback);
  const benches: Record<string, () => Promise<string>> = {
    enrollment: () => enrollmentBench({ singles: Number(values.singles), batches: numbers(values.batches), intervalS: intervalS('2') }, progress),
    detection: async () => {
      const r = await detectionBench({ runs: Number(values.runs), nodes: Number(values.nodes ?? '5'), intervalS: intervalS('2') }, progress);
      const png = await histogramPng('detection-latency.png', r.latenciesMs.map((ms) => ms / 1000), intervalS('2') + 0.5);
      return `${r.markdown}\nPlot: ${png}\n`;
    },
    scale: () => scaleBench({
      nodeCounts: numbers(values.nodes ?? '1000'), intervalS: intervalS('10'), windowS: Number(values.window),
      ak: values.ak === 'ecdsa' ? 'ecdsa' : 'rsassa', enrollTimeoutS: Number(values['enroll-timeout']), replicas: numbers(values.replicas ?? '1'),
    }, progress),
    quarantine: () => quarantineBench({ runs: Number(values.runs), nodes: Number(values.nodes ?? '3'), intervalS: intervalS('1') }, progress),
    'scale-plot': async () => `Plot: ${await scalePlot()}\n`,
    failover: () => failoverBench({
      nodes: Number(values.nodes ?? '1000'), intervalS: intervalS('5'), replicas: Number(values.replicas ?? '3'), enrollTimeoutS: Number(values['enroll-timeout']),
    }, progress),
    join: () => joinBench({ runs: Number(values.runs === '100' ? '20' : values.runs) }, progress),
    connections: () => connectionsBench({ agents: Number(values.nodes ?? '2000'), rounds: Number(values.rounds), repeats: Number(values.repeats) }, progress),
  };
  const bench = benches[which];
  if (bench === undefined) {
    throw new Error('usage: main.js enrollment [--singles 5] [--batches 10,20] | detection [--runs 100] [--nodes 5] [--interval 2] | scale [--nodes 1000,10000] [--replicas 1,3] [--interval 10] [--window 90] [--ak rsassa|ecdsa] [--enroll-timeout 1800] | quarantine [--runs 100] [--nodes 3] [--interval 1] | scale-plot | failover [--nodes 1000] [--interval 5] [--replicas 3] | connections [--nodes 2000] [--rounds 3] [--repeats 3] | join [--runs 20]');
  }
  process.stdout.write(`Command: node bench/dist/cluster/main.js ${process.argv.slice(2).join(' ')}\n\n`);
  await mkdir(resultsDir(), { recursive: true });
  process.stdout.write(await bench());
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
