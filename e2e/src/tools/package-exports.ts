/**
 * Which imports cross a package boundary without going through an entry point the target lists in
 * its package.json "exports". Pure: the caller reads the files.
 */
export interface PackageEntries {
  /** Workspace folder, e.g. `attest`. */
  readonly dir: string;
  /** Package name, e.g. `@nodeward/attest`. */
  readonly name: string;
  /** The keys of "exports": `.`, `./testing`, … */
  readonly exports: readonly string[];
}

export interface ImportSite {
  /** Repository-relative path of the importing file, e.g. `bench/src/x.ts`. */
  readonly file: string;
  readonly specifier: string;
}

const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm;

/** Every module specifier of a TypeScript source (static imports, re-exports, dynamic imports). */
export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[1]!);
}

function joinPath(from: string, relative: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const p of relative.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

function packageViolation(site: ImportSite, packages: readonly PackageEntries[]): string | undefined {
  const [, name, sub] = /^(@nodeward\/[a-z0-9-]+)(\/.*)?$/.exec(site.specifier) ?? [];
  if (name === undefined) return undefined;
  const target = packages.find((p) => p.name === name);
  if (target === undefined) return `${site.file}: ${site.specifier}: no workspace package ${name}`;
  const entry = sub === undefined ? '.' : `.${sub}`;
  return target.exports.includes(entry) ? undefined : `${site.file}: ${site.specifier}: ${name} does not export ${entry} (exports: ${target.exports.join(', ')})`;
}

/** The violations, one line each: a non-exported subpath, or a relative path into another package. */
export function exportViolations(packages: readonly PackageEntries[], sites: readonly ImportSite[]): string[] {
  const out: string[] = [];
  for (const p of packages) {
    const wild = p.exports.filter((e) => e.includes('*'));
    if (wild.length > 0) out.push(`${p.dir}/package.json: "exports" must list entry points, not ${wild.join(', ')}`);
  }
  for (const site of sites) {
    if (site.specifier.startsWith('.')) {
      const own = site.file.split('/')[0];
      const into = joinPath(site.file, site.specifier).split('/')[0];
      const other = packages.find((p) => p.dir === into);
      if (into !== own && other !== undefined) out.push(`${site.file}: ${site.specifier}: reaches into ${other.dir}/; import ${other.name} or one of its exports`);
      continue;
    }
    const v = packageViolation(site, packages);
    if (v !== undefined) out.push(v);
  }
  return out;
}
