/**
 * Whether two JSON-shaped values serialise to the same JSON up to object key order: keys whose value
 * is undefined count as absent, and an undefined array element as null (as JSON.stringify has them).
 * `ignore` names top-level keys left out of the comparison. Pure; stops at the first difference, so
 * the status no-write check does not serialise the whole status twice per round.
 */
export function sameJson(a: unknown, b: unknown, ignore?: ReadonlySet<string>): boolean {
  if (a === b && ignore === undefined) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  const arrays = Number(Array.isArray(a)) + Number(Array.isArray(b));
  if (arrays === 2) return sameArray(a as readonly unknown[], b as readonly unknown[]);
  return arrays === 0 && sameObject(a as Readonly<Record<string, unknown>>, b as Readonly<Record<string, unknown>>, ignore);
}

function sameArray(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (!sameJson(a[i] ?? null, b[i] ?? null)) return false;
  }
  return true;
}

function sameObject(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>, ignore: ReadonlySet<string> | undefined): boolean {
  let defined = 0;
  for (const k of Object.keys(a)) {
    if (a[k] === undefined || ignore?.has(k) === true) continue;
    if (!Object.hasOwn(b, k) || !sameJson(a[k], b[k])) return false;
    defined++;
  }
  // Every defined key of a is in b; b has no other one iff it has as many.
  for (const k of Object.keys(b)) {
    if (b[k] !== undefined && ignore?.has(k) !== true) defined--;
  }
  return defined === 0;
}
