import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCredential } from '@nodeward/attest';
import { AgentTpm } from '@nodeward/agent';
import { createSwtpmCa, startSwtpm, type Swtpm } from '@nodeward/e2e/sim';
import { fmt, table } from './timing.js';

/**
 * The agent's TPM operations on one swtpm, the commands sent from Node against one tpm2-tools process
 * per command: wall time per operation, and CPU per operation of the agent, of the tpm2-tools
 * processes (this process's reaped children) and of swtpm. Two alternating passes of each.
 */

const OPS = 30;
const SEL = { sha1: [10], sha256: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10] };
const TICK_MS = 10;

function statMs(pid: number, fields: number[]): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return fields.reduce((t, i) => t + Number(rest[i]), 0) * TICK_MS;
}

interface Cpu { agent: number; tools: number; swtpm: number }

function cpuNow(swtpm: Swtpm): Cpu {
  const u = process.resourceUsage();
  return { agent: (u.userCPUTime + u.systemCPUTime) / 1000, tools: statMs(process.pid, [13, 14]), swtpm: statMs(swtpm.pid()!, [11, 12]) };
}

async function measure(tpm: AgentTpm, swtpm: Swtpm, op: 'quote' | 'activate'): Promise<{ wall: number; cpu: Cpu }> {
  const id = tpm.identity;
  const c0 = cpuNow(swtpm);
  const t0 = performance.now();
  for (let i = 0; i < OPS; i++) {
    if (op === 'quote') await tpm.quote(randomBytes(20), SEL);
    else {
      const m = makeCredential({ ekPublic: Buffer.from(id.ekPublic, 'base64'), akName: Buffer.from(id.akName, 'hex'), secret: randomBytes(32) });
      await tpm.activate(m.credentialBlob, m.encryptedSecret);
    }
  }
  await tpm.quote(randomBytes(20), SEL); // what was deferred (the tools path's session flush) is done before the clock stops
  const wall = (performance.now() - t0) / OPS;
  const c1 = cpuNow(swtpm);
  return { wall, cpu: { agent: (c1.agent - c0.agent) / OPS, tools: (c1.tools - c0.tools) / OPS, swtpm: (c1.swtpm - c0.swtpm) / OPS } };
}

export async function tpmOpsBench(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nw-tpm-ops-'));
  const swtpm = await startSwtpm({ ca: await createSwtpmCa(join(dir, 'ca')), stateDir: join(dir, 'tpm') });
  const rows: string[][] = [];
  try {
    for (const native of [false, true, false, true]) {
      const t0 = performance.now();
      const tpm = await AgentTpm.open({ tcti: swtpm.tcti, akType: 'rsa', akHandle: 0x81010002, ekHandle: 0x81010001, native });
      const openMs = performance.now() - t0;
      for (const op of ['quote', 'activate'] as const) {
        const r = await measure(tpm, swtpm, op);
        rows.push([native ? 'from Node' : 'tpm2-tools', op, fmt(r.wall, 1), fmt(r.cpu.agent, 1), fmt(r.cpu.tools, 1), fmt(r.cpu.swtpm, 1), fmt(openMs, 0)]);
      }
      await tpm.close();
    }
  } finally {
    await swtpm.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return [
    `${OPS} operations per row on one swtpm, alternating passes (the first open creates the AK; later opens reuse it).`, '',
    table(['path', 'operation', 'wall ms/op', 'agent CPU ms/op', 'tpm2-tools CPU ms/op', 'swtpm CPU ms/op', 'open (ms)'], rows),
  ].join('\n');
}
