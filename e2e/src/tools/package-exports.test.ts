import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo-root.js';
import { exportViolations, importSpecifiers, type ImportSite, type PackageEntries } from './package-exports.js';

const WORKSPACES = ['attest', 'cli', 'agent', 'operator', 'e2e', 'bench'];

function workspaceEntries(root: string): PackageEntries[] {
  return WORKSPACES.map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { name: string; exports?: Record<string, unknown> };
    return { dir, name: pkg.name, exports: Object.keys(pkg.exports ?? {}) };
  });
}

function sources(root: string, dir: string): string[] {
  return readdirSync(join(root, dir, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/src/${f}`);
}

const PACKAGES: PackageEntries[] = [
  { dir: 'attest', name: '@nodeward/attest', exports: ['.', './testing'] },
  { dir: 'e2e', name: '@nodeward/e2e', exports: ['.', './sim'] },
];

describe('package exports', () => {
  it('no package imports another package except through an entry point it exports', () => {
    const root = repoRoot();
    const sites: ImportSite[] = WORKSPACES.flatMap((dir) => sources(root, dir))
      .flatMap((file) => importSpecifiers(readFileSync(join(root, file), 'utf8')).map((specifier) => ({ file, specifier })));
    expect(sites.length).toBeGreaterThan(1000);
    expect(exportViolations(workspaceEntries(root), sites)).toEqual([]);
  });

  it.each([
    ['the main entry', 'bench/src/a.ts', '@nodeward/attest', []],
    ['an exported subpath', 'bench/src/a.ts', '@nodeward/attest/testing', []],
    ['a path inside the own package', 'attest/src/round/a.ts', '../tpm/b.js', []],
    ['a non-exported subpath', 'bench/src/a.ts', '@nodeward/attest/ima/pcr10-replay',
      ['bench/src/a.ts: @nodeward/attest/ima/pcr10-replay: @nodeward/attest does not export ./ima/pcr10-replay (exports: ., ./testing)']],
    ['a relative path into another package', 'attest/src/round/a.test.ts', '../../../e2e/src/sim/soft-tpm.js',
      ['attest/src/round/a.test.ts: ../../../e2e/src/sim/soft-tpm.js: reaches into e2e/; import @nodeward/e2e or one of its exports']],
    ['an unknown package', 'bench/src/a.ts', '@nodeward/nothing', ['bench/src/a.ts: @nodeward/nothing: no workspace package @nodeward/nothing']],
  ])('%s', (_what, file, specifier, expected) => {
    expect(exportViolations(PACKAGES, [{ file, specifier }])).toEqual(expected);
  });

  it('refuses a wildcard export, which would export every file', () => {
    expect(exportViolations([{ dir: 'attest', name: '@nodeward/attest', exports: ['.', './*'] }], [])).toEqual(['attest/package.json: "exports" must list entry points, not ./*']);
  });

  it('finds static, re-export, side-effect and dynamic imports', () => {
    const src = "import { a } from 'x';\nexport * from './y.js';\nimport 'reflect-metadata';\nconst m = await import('@nodeward/e2e/sim');\nimport type {\n  B,\n} from '../z.js';\n";
    expect(importSpecifiers(src)).toEqual(['x', './y.js', 'reflect-metadata', '@nodeward/e2e/sim', '../z.js']);
  });
});
