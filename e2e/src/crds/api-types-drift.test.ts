import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { API_TYPES_FILE, generateApiTypes, normalizeSchema, readRepoCrds, toolRepoRoot, type CrdDocument } from '../tools/gen-api-types.js';

describe('operator/src/api/v1alpha1.ts is generated from crds/*.yaml', () => {
  let crds: CrdDocument[];
  beforeAll(async () => {
    crds = await readRepoCrds(toolRepoRoot());
  });

  it('equals a fresh generation (run `node e2e/dist/tools/gen-api-types.js` after changing a CRD)', async () => {
    const committed = await readFile(path.join(toolRepoRoot(), API_TYPES_FILE), 'utf8');
    expect(committed).toBe(generateApiTypes(crds));
  });

  it('reads every CRD, in file-name order', () => {
    expect(crds.map((crd) => crd.spec.names.kind)).toEqual(['NodeAttestationPolicy', 'NodeAttestation', 'NodeJoinRequest']);
  });

  it('changes when a CRD schema changes', () => {
    const changed = structuredClone(crds);
    const schema = changed[1]!.spec.versions[0]!.schema.openAPIV3Schema as { properties: Record<string, { properties: Record<string, unknown> }> };
    schema.properties['spec']!.properties['zone'] = { type: 'string', description: 'A new field.' };
    const generated = generateApiTypes(changed);
    expect(generated).not.toBe(generateApiTypes(crds));
    expect(generated).toContain('  zone?: string;');
  });

  it('maps client-node model spellings back to raw OpenAPI keys', () => {
    const schema = normalizeSchema({ type: 'string', _enum: ['a', 'b'], _default: 'a', xKubernetesListType: undefined });
    expect(schema).toEqual({ type: 'string', enum: ['a', 'b'], default: 'a' });
  });

  it('emits enums as string-literal unions and required fields as non-optional', () => {
    const generated = generateApiTypes(crds);
    expect(generated).toContain("export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';");
    expect(generated).toContain("export type NodeAttestationPhase = 'Pending' | 'Registered' | 'Trusted' | 'Untrusted' | 'Unreachable' | 'Conflict' | 'Stale';");
    expect(generated).toMatch(/export interface NodeAttestationSpec \{[^}]*\n {2}nodeName: string;/);
  });
});
