/**
 * Keylime's `excludes` are Python regexes applied with re.match: anchored at the start of the path,
 * not at the end. We translate the Python spellings Keylime users write into JavaScript:
 * - leading inline flags `(?i)`, `(?s)`, `(?m)`, `(?x)` (any combination, and `a`/`u`, which change
 *   nothing for paths here) become RegExp flags (`x`, verbose, by dropping its whitespace and comments);
 * - `(?P<n>…)`, `(?P=n)`, `(?#comment)`, `\A`, `\Z`, and `{,n}` (Python's `{0,n}`).
 * Anything that cannot be translated (a global flag not at the start, `(?L)`, atomic groups and
 * possessive quantifiers on a JavaScript without them, …) is refused with the reason, naming the
 * pattern. Patterns are compiled into one anchored alternation, except those with flags of their own
 * or whose group numbering would change inside it (backreferences, named groups): those stand alone.
 */

export interface TranslatedExclude {
  readonly source: string;
  /** RegExp flags from the pattern's leading inline flags ('' for none). */
  readonly flags: string;
  /** Why the pattern cannot be used, if it cannot. */
  readonly error?: string;
}

/** `\A` and `\Z` anchor at the very start and end whatever the flags (`^`/`$` would follow `m`). */
const START = '(?<![\\s\\S])';
const END = '(?![\\s\\S])';

function translateEscape(next: string): string {
  if (next === 'A') return START;
  if (next === 'Z') return END;
  return `\\${next}`;
}

interface Flags {
  readonly flags: string;
  readonly verbose: boolean;
  readonly rest: number;
}

const FLAG_GROUP = /^\(\?([aiLmsux]+)\)/;

/** Python's global inline flags, which must come first (Python 3.11+ refuses them anywhere else). */
function leadingFlags(pattern: string): Flags | string {
  let at = 0;
  const seen = new Set<string>();
  for (let m = FLAG_GROUP.exec(pattern); m !== null; m = FLAG_GROUP.exec(pattern.slice(at))) {
    for (const f of m[1]!) seen.add(f);
    at += m[0].length;
  }
  if (seen.has('L')) return 'the L (locale) flag applies to bytes patterns only';
  if (seen.has('a') && seen.has('u')) return 'flags a and u are incompatible';
  const flags = ['i', 'm', 's'].filter((f) => seen.has(f)).join('');
  return { flags, verbose: seen.has('x'), rest: at };
}

/** In verbose mode, whitespace and `#` comments outside a character class are not part of the pattern. */
function skipVerbose(pattern: string, i: number, inClass: boolean): number {
  if (inClass) return i;
  let j = i;
  for (;;) {
    const c = pattern[j];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') j++;
    else if (c === '#') while (j < pattern.length && pattern[j] !== '\n') j++;
    else return j;
  }
}

/** One Python construct at `i`: its JavaScript spelling and where the next one starts. */
function translateAt(pattern: string, i: number, inClass: boolean): { out: string; next: number } | string {
  const c = pattern[i]!;
  if (c === '\\' && i + 1 < pattern.length) return { out: inClass ? `\\${pattern[i + 1]}` : translateEscape(pattern[i + 1]!), next: i + 2 };
  if (inClass) return { out: c, next: i + 1 };
  if (pattern.startsWith('(?P<', i)) return { out: '(?<', next: i + 4 };
  if (pattern.startsWith('(?P=', i)) {
    const close = pattern.indexOf(')', i);
    if (close < 0) return 'unterminated (?P=name)';
    return { out: `\\k<${pattern.slice(i + 4, close)}>`, next: close + 1 };
  }
  if (pattern.startsWith('(?#', i)) {
    const close = pattern.indexOf(')', i);
    if (close < 0) return 'unterminated (?#comment)';
    return { out: '', next: close + 1 };
  }
  if (FLAG_GROUP.test(pattern.slice(i))) return `global flags ${FLAG_GROUP.exec(pattern.slice(i))![0]} not at the start of the pattern`;
  if (pattern.startsWith('{,', i)) return { out: '{0,', next: i + 2 };
  return { out: c, next: i + 1 };
}

/** `[` opening a class: a `]` right after `[` or `[^` is a literal in Python, an empty class in JavaScript. */
function openClass(pattern: string, i: number): { out: string; next: number } {
  const neg = pattern[i + 1] === '^' ? 1 : 0;
  if (pattern[i + 1 + neg] === ']') return { out: neg ? '[^\\]' : '[\\]', next: i + 2 + neg };
  return { out: '[', next: i + 1 };
}

function translateBody(pattern: string, lead: Flags): { out: string } | string {
  let out = '';
  let inClass = false;
  for (let i = lead.rest; i < pattern.length; ) {
    if (lead.verbose) i = skipVerbose(pattern, i, inClass);
    if (i >= pattern.length) break;
    const opening = !inClass && pattern[i] === '[';
    const t = opening ? openClass(pattern, i) : translateAt(pattern, i, inClass);
    if (typeof t === 'string') return t;
    if (opening) inClass = true;
    else if (inClass && pattern[i] === ']') inClass = false;
    out += t.out;
    i = t.next;
  }
  return { out };
}

export function translateExclude(pattern: string): TranslatedExclude {
  const lead = leadingFlags(pattern);
  if (typeof lead === 'string') return { source: pattern, flags: '', error: lead };
  const body = translateBody(pattern, lead);
  if (typeof body === 'string') return { source: pattern, flags: lead.flags, error: body };
  try {
    new RegExp(body.out, lead.flags);
    return { source: body.out, flags: lead.flags };
  } catch (e) {
    return { source: body.out, flags: lead.flags, error: (e as Error).message };
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
    // With the m flag `^` would match after any newline; re.match anchors at the start of the path only.
    const anchor = t.flags.includes('m') ? START : '^';
    if (t.flags !== '' || NOT_COMBINABLE.test(t.source)) alone.push(new RegExp(`${anchor}(?:${t.source})`, t.flags));
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
