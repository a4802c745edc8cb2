const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration of the CRD's pattern (`30s`, `1m30s`, `1.5h`, `500ms`) in milliseconds; undefined if invalid. */
export function parseDurationMs(text: string | undefined): number | undefined {
  if (text === undefined || !/^([0-9]+([.][0-9]+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:[.][0-9]+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}
