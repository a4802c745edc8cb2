/**
 * Keylime's `excludes` are Python regexes applied with re.match: anchored at the start of the path,
 * not at the end. We translate the few Python-only spellings (`(?P<n>`, `(?P=n)`, `\A`, `\Z`) and
 * compile them all into one anchored alternation, except patterns whose group numbering would
 * change inside it (backreferences, named groups), which are compiled on their own.
 */

export interface TranslatedExclude {
  readonly source: string;
  /** Why the pattern does not compile, if it does not. */
  readonly error?: string;
}

function translateEscape(next: string): string {
  if (next === 'A') return '^';
  if (next === 'Z') return '$';
  return `\\${next}`;
}

export function translateExclude(pattern: string): TranslatedExclude {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      out += translateEscape(pattern[++i]!);
    } else if (pattern.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
    } else if (pattern.startsWith('(?P=', i)) {
      const close = pattern.indexOf(')', i);
      if (close < 0) return { source: pattern, error: 'unterminated (?P=name)' };
      out += `\\k<${pattern.slice(i + 4, close)}>`;
      i = close;
    } else {
      out += c;
    }
  }
  try {
    new RegExp(out);
    return { source: out };
  } catch (e) {
    return { source: out, error: (e as Error).message };
  }
}

/** Backreferences and named groups are only safe in a regex of their own. */
const NOT_COMBINABLE = /\\[1-9]|\\k<|\(\?<(?![=!])/;

/** A predicate: does any exclude match (at the start of) this path? Throws if a pattern is invalid. */
export function compileExcludes(patterns: readonly string[]): (path: string) => boolean {
  const combinable: string[] = [];
  const alone: RegExp[] = [];
  for (const p of patterns) {
    const t = translateExclude(p);
    if (t.error !== undefined) throw new SyntaxError(`invalid exclude ${JSON.stringify(p)}: ${t.error}`);
    if (NOT_COMBINABLE.test(t.source)) alone.push(new RegExp(`^(?:${t.source})`));
    else combinable.push(`(?:${t.source})`);
  }
  const all = combinable.length > 0 ? [new RegExp(`^(?:${combinable.join('|')})`), ...alone] : alone;
  if (all.length === 0) return () => false;
  if (all.length === 1) {
    const [only] = all as [RegExp];
    return (path) => only.test(path);
  }
  return (path) => all.some((re) => re.test(path));
}
