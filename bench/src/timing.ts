import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';

/** Shared timing helpers: rates over at least `minSeconds`, A/B repeats interleaved, medians. */

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Calls `fn` in batches until `minSeconds` have passed; returns calls per second. */
export function rate(fn: () => void, minSeconds: number, batch = 100): number {
  for (let i = 0; i < Math.min(batch, 50); i++) fn();
  let calls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < minSeconds);
  return calls / elapsed;
}

/** Seconds one call of `fn` takes. */
export function once(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

export interface Paired { a: number[]; b: number[]; ratios: number[] }

/**
 * Runs A and B `repeats` times, alternating which goes first, and keeps every figure: a noisy
 * neighbour then hits both sides alike, and the median of the per-repeat ratios is robust.
 */
export async function interleave(repeats: number, a: () => number | Promise<number>, b: () => number | Promise<number>): Promise<Paired> {
  const out: Paired = { a: [], b: [], ratios: [] };
  for (let r = 0; r < repeats; r++) {
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = await a();
      y = await b();
    } else {
      y = await b();
      x = await a();
    }
    out.a.push(x);
    out.b.push(y);
    out.ratios.push(x / y);
  }
  return out;
}

export function machine(): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return `nproc ${cpus().length}, ${model}, node ${process.version}`;
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

export const met = (ok: boolean): string => (ok ? 'met' : '**not met**');
