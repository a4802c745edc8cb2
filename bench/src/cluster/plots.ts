import { writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Canvas, type Rgb } from './png.js';
import { fmt } from './stats.js';

/** The benchmark plots, written to bench/results/. */

const INK: Rgb = [40, 40, 40];
const BAR: Rgb = [70, 120, 190];
const MARK: Rgb = [200, 40, 40];
const W = 640;
const H = 360;
const M = { left: 60, right: 20, top: 20, bottom: 50 };

/** bench/results, from bench/dist/cluster/plots.js. */
export function resultsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '../../results');
}

function axes(c: Canvas): void {
  c.rect(M.left, M.top, 2, H - M.top - M.bottom, INK);
  c.rect(M.left, H - M.bottom, W - M.left - M.right, 2, INK);
}

async function save(name: string, c: Canvas): Promise<string> {
  const path = join(resultsDir(), name);
  await writeFile(path, c.png());
  return relative(process.cwd(), path);
}

/**
 * Histogram of `values` (seconds) in 0.1 s bins; x ticks every 0.5 s; y labelled with the tallest bin;
 * a red line at `markAt` (the target).
 */
export async function histogramPng(name: string, values: readonly number[], markAt: number): Promise<string> {
  const c = new Canvas(W, H);
  const binW = 0.1;
  const top = Math.max(markAt, ...values) + binW;
  const bins = new Array<number>(Math.ceil(top / binW)).fill(0);
  for (const v of values) bins[Math.min(bins.length - 1, Math.floor(v / binW))]!++;
  const peak = Math.max(1, ...bins);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const xOf = (s: number): number => M.left + (s / (bins.length * binW)) * plotW;
  bins.forEach((n, i) => { const h = (n / peak) * plotH; c.rect(xOf(i * binW) + 1, H - M.bottom - h, plotW / bins.length - 2, h, BAR); });
  axes(c);
  for (let s = 0; s <= top; s += 0.5) { c.rect(xOf(s), H - M.bottom, 1, 6, INK); c.text(xOf(s) - 8, H - M.bottom + 10, `${fmt(s, 1)}s`, INK); }
  c.text(8, M.top, String(peak), INK);
  c.text(8, H - M.bottom - 10, '0', INK);
  c.rect(xOf(markAt), M.top, 2, plotH, MARK);
  return save(name, c);
}

/**
 * One bar per (label, value); each labelled with its value (and `unit`) above and its label below. A bar's
 * optional `mark` (e.g. the rate due) is drawn as a red line across it, labelled `markLabel`.
 */
export async function barsPng(name: string, bars: readonly { label: string; value: number; mark?: number }[], unit = '', markLabel = ''): Promise<string> {
  const c = new Canvas(W, H);
  const peak = Math.max(1, ...bars.map((b) => Math.max(b.value, b.mark ?? 0)));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom - 20;
  const slot = plotW / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const h = (b.value / peak) * plotH;
    const bw = b.mark === undefined ? slot * 0.6 : slot * 0.45;
    const x = M.left + i * slot + (b.mark === undefined ? slot * 0.2 : slot * 0.08);
    c.rect(x, H - M.bottom - h, bw, h, BAR);
    c.text(x, H - M.bottom - h - 14, `${fmt(b.value, 0)}${unit}`, INK);
    c.text(x, H - M.bottom + 10, b.label, INK);
    if (b.mark !== undefined) {
      const y = H - M.bottom - (b.mark / peak) * plotH;
      c.rect(x - 4, y, bw + 8, 2, MARK);
      c.text(x + bw + 8, y - 4, `${markLabel} ${fmt(b.mark, 0)}${unit}`, MARK);
    }
  });
  axes(c);
  return save(name, c);
}
