/** Reads the operator's Prometheus text exposition: sums of a metric's samples, histogram buckets. */

export type Samples = Map<string, number>;

/** Fetches http://127.0.0.1:<port>/metrics and indexes every sample line by `name{labels}`. */
export async function scrape(port: number): Promise<Samples> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`metrics answered ${res.status}`);
  return parseExposition(await res.text());
}

/** Indexes every sample line of a Prometheus text exposition by `name{labels}`. */
export function parseExposition(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** The value of label `name` in a sample key (`metric{a="x",b="y"}`), '' when absent. */
export function label(key: string, name: string): string {
  return new RegExp(`[{,]${name}="([^"]*)"`).exec(key)?.[1] ?? '';
}

/** Sum over every sample of `name` whose labels contain all of `match` (e.g. 'result="trusted"'). */
export function sum(s: Samples, name: string, ...match: string[]): number {
  let total = 0;
  for (const [key, v] of s) {
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric === name && match.every((m) => key.includes(m))) total += v;
  }
  return total;
}

/** Cumulative histogram buckets of `name` (le → count), as the difference between two scrapes. */
export function bucketDelta(before: Samples, after: Samples, name: string): { le: number; count: number }[] {
  const out: { le: number; count: number }[] = [];
  for (const [key, v] of after) {
    if (!key.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1] ?? '+Inf';
    out.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: v - (before.get(key) ?? 0) });
  }
  return out.sort((a, b) => a.le - b.le);
}

/** The smallest bucket bound holding at least the q-quantile of the observations (an upper bound). */
export function bucketQuantile(buckets: readonly { le: number; count: number }[], q: number): number {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return Number.NaN;
  return buckets.find((b) => b.count >= q * total)?.le ?? Number.POSITIVE_INFINITY;
}
