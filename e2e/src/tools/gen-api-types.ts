// Generates operator/src/api/v1alpha1.ts from the CRD schemas in crds/*.yaml: the schemas are the single
// source of truth for the API types. Run after a CRD change: npm run build && node e2e/dist/tools/gen-api-types.js
// (`--check` exits 1 instead of writing when the committed file is stale).
import { loadAllYaml } from '@kubernetes/client-node';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The subset of an OpenAPI v3 schema a structural CRD schema uses. */
export interface Schema {
  readonly type?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly additionalProperties?: Schema | boolean;
  readonly enum?: readonly unknown[];
  readonly format?: string;
  readonly default?: unknown;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly 'x-kubernetes-int-or-string'?: boolean;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-list-type'?: string;
}

/** A CustomResourceDefinition as read from YAML (raw JSON field names). */
export interface CrdDocument {
  readonly kind: string;
  readonly spec: {
    readonly group: string;
    readonly scope: string;
    readonly names: { readonly kind: string; readonly plural: string; readonly singular?: string; readonly listKind?: string; readonly shortNames?: readonly string[]; readonly categories?: readonly string[] };
    readonly versions: readonly { readonly name: string; readonly storage: boolean; readonly schema: { readonly openAPIV3Schema: Schema } }[];
  };
}

/** Where the generated file lives, relative to the repository root. */
export const API_TYPES_FILE = 'operator/src/api/v1alpha1.ts';
const VERSION = 'v1alpha1';

/**
 * Preferred names for types otherwise named after their path (Kind + property names in PascalCase).
 * Schemas that are identical but for their descriptions share one type, named after the first path.
 */
const NAMES: Readonly<Record<string, string>> = {
  NodeAttestationPolicySpecNodeSelector: 'LabelSelector',
  NodeAttestationPolicySpecNodeSelectorMatchExpressions: 'LabelSelectorRequirement',
  NodeAttestationPolicySpecNodeSelectorMatchExpressionsOperator: 'LabelSelectorOperator',
  NodeAttestationPolicySpecTpm: 'TpmPolicy',
  NodeAttestationPolicySpecTpmHashAlg: 'HashAlg',
  NodeAttestationPolicySpecTpmAkKeyType: 'AkKeyType',
  NodeAttestationPolicySpecTpmEkTrustAnchors: 'EkTrustAnchors',
  NodeAttestationPolicySpecTpmEkTrustAnchorsConfigMapRef: 'ConfigMapRef',
  NodeAttestationPolicySpecMeasuredBoot: 'MeasuredBootPolicy',
  NodeAttestationPolicySpecIma: 'ImaPolicy',
  NodeAttestationPolicySpecImaRuntimePolicy: 'RuntimePolicyRef',
  NodeAttestationPolicySpecVerity: 'VerityPolicy',
  NodeAttestationPolicySpecVerityDevices: 'VerityDevice',
  NodeAttestationPolicySpecOnFailure: 'FailureActions',
  NodeAttestationPolicySpecOnFailureTaint: 'TaintAction',
  NodeAttestationPolicySpecOnFailureTaintEffect: 'TaintEffect',
  NodeAttestationPolicySpecOnFailureDrain: 'DrainAction',
  NodeAttestationPolicySpecOnUnreachable: 'UnreachableActions',
  NodeAttestationPolicySpecRecovery: 'RecoveryMode',
  NodeAttestationPolicySpecMode: 'PolicyMode',
  NodeAttestationPolicyStatusConditions: 'Condition',
  NodeAttestationPolicyStatusConditionsStatus: 'ConditionStatus',
  NodeAttestationStatusPhase: 'NodeAttestationPhase',
  NodeAttestationStatusIdentity: 'TpmIdentity',
  NodeAttestationStatusLastFailure: 'AttestationFailure',
  NodeAttestationStatusEnforcement: 'EnforcementState',
  NodeAttestationStatusDrain: 'DrainProgress',
  NodeAttestationStatusDrainPhase: 'DrainPhase',
};

/** Collects named declarations in first-use order, sharing one name per distinct schema. */
class Emitter {
  readonly declarations: string[] = [];
  private readonly byShape = new Map<string, string>();
  private readonly shapeByName = new Map<string, string>();

  /** The type expression for `schema` found at `pathName`, declaring named types as needed. */
  typeOf(schema: Schema, pathName: string): string {
    if (schema['x-kubernetes-int-or-string'] === true) return 'number | string';
    if (schema.enum !== undefined) return this.named(schema, pathName, () => `export type %s = ${schema.enum!.map((v) => JSON.stringify(v).replaceAll('"', "'")).join(' | ')};`);
    switch (schema.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array':
        return `${this.wrap(this.typeOf(schema.items ?? {}, pathName))}[]`;
      case 'object':
        return this.objectType(schema, pathName);
      default:
        return 'unknown';
    }
  }

  private objectType(schema: Schema, pathName: string): string {
    if (schema.properties !== undefined) return this.named(schema, pathName, () => this.interfaceBody(schema, pathName));
    if (typeof schema.additionalProperties === 'object') return `Record<string, ${this.typeOf(schema.additionalProperties, `${pathName}Value`)}>`;
    return 'Record<string, unknown>';
  }

  /** Declares `export interface %s { ... }` for the properties of `schema`. */
  interfaceBody(schema: Schema, pathName: string): string {
    const required = new Set(schema.required ?? []);
    const lines = Object.entries(schema.properties ?? {}).flatMap(([name, prop]) => [
      ...docComment(prop, '  '),
      `  ${name}${required.has(name) ? '' : '?'}: ${this.typeOf(prop, pathName + pascal(name))};`,
    ]);
    return ['export interface %s {', ...lines, '}'].join('\n');
  }

  private named(schema: Schema, pathName: string, declare: () => string): string {
    const shape = JSON.stringify(schema, (key, value: unknown) => (key === 'description' ? undefined : value));
    const existing = this.byShape.get(shape);
    if (existing !== undefined) return existing;
    const name = NAMES[pathName] ?? pathName;
    if (this.shapeByName.has(name)) throw new Error(`gen-api-types: two different schemas are both named ${name}`);
    this.byShape.set(shape, name);
    this.shapeByName.set(name, shape);
    const index = this.declarations.push('') - 1;
    this.declarations[index] = declare().replace('%s', name);
    return name;
  }

  private wrap(type: string): string {
    return type.includes('|') ? `(${type})` : type;
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function constraints(schema: Schema): string[] {
  const parts: string[] = [];
  if (schema.format !== undefined) parts.push(`format ${schema.format}`);
  if (schema.pattern !== undefined) parts.push(`pattern \`${schema.pattern}\``);
  if (schema.minimum !== undefined) parts.push(`minimum ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`maximum ${schema.maximum}`);
  if (schema.minItems !== undefined) parts.push(`at least ${schema.minItems} items`);
  if (schema.maxItems !== undefined) parts.push(`at most ${schema.maxItems} items`);
  if (schema['x-kubernetes-list-type'] === 'set') parts.push('unique items');
  if (schema.items !== undefined) parts.push(...constraints(schema.items).map((c) => `items: ${c}`));
  return parts;
}

function docComment(schema: Schema, indent: string): string[] {
  const lines: string[] = [];
  if (schema.description !== undefined) lines.push(schema.description);
  const rules = constraints(schema);
  if (rules.length > 0) lines.push(`Schema: ${rules.join('; ')}.`);
  if (schema.default !== undefined) lines.push(`@defaultValue ${JSON.stringify(schema.default)}`);
  if (lines.length === 0) return [];
  return [`${indent}/**`, ...lines.map((line) => `${indent} * ${line.replaceAll('*/', '*\\/')}`), `${indent} */`];
}

function storageSchema(crd: CrdDocument): Schema {
  const version = crd.spec.versions.find((v) => v.name === VERSION);
  if (version === undefined) throw new Error(`gen-api-types: ${crd.spec.names.kind} has no version ${VERSION}`);
  return normalizeSchema(version.schema.openAPIV3Schema);
}

function literal(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(literal).join(', ')}]` : `'${String(value)}'`;
}

function kindDeclarations(crd: CrdDocument, emitter: Emitter): string[] {
  const { kind, plural, singular, listKind, shortNames, categories } = crd.spec.names;
  const root = storageSchema(crd);
  const props = root.properties ?? {};
  const resource: Record<string, unknown> = { group: crd.spec.group, version: VERSION, kind, plural, singular, listKind, shortNames, categories, scope: crd.spec.scope };
  const resourceLines = Object.entries(resource).filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k}: ${literal(v)},`);
  const fields = ['spec', 'status'].filter((field) => props[field] !== undefined);
  const classLines = fields.flatMap((field) => [...docComment(props[field]!, '  '), `  ${field}?: ${emitter.typeOf(props[field]!, kind + pascal(field))};`]);
  return [
    [
      `/** The ${kind} resource; also a kubernetes-fluent-client GroupVersionKind: RegisterKind(${kind}, ${kind}Resource). */`,
      `export const ${kind}Resource = {`,
      ...resourceLines,
      '} as const;',
    ].join('\n'),
    [...docComment(root, ''), `export class ${kind} {`, '  apiVersion?: string;', '  kind?: string;', '  metadata?: ObjectMeta;', ...classLines, '}'].join('\n'),
    [
      `/** A list of ${kind} objects, as returned by list calls. */`,
      `export interface ${listKind ?? `${kind}List`} {`,
      '  apiVersion?: string;',
      '  kind?: string;',
      '  metadata?: ListMeta;',
      `  items: ${kind}[];`,
      '}',
    ].join('\n'),
  ];
}

/** The TypeScript source of operator/src/api/v1alpha1.ts for these CRDs (in the given order). */
export function generateApiTypes(crds: readonly CrdDocument[]): string {
  const groups = [...new Set(crds.map((crd) => crd.spec.group))];
  if (groups.length !== 1) throw new Error(`gen-api-types: expected one API group, got ${groups.join(', ')}`);
  const emitter = new Emitter();
  const kinds = crds.flatMap((crd) => kindDeclarations(crd, emitter));
  return [
    [
      '// Code generated by e2e/src/tools/gen-api-types.ts from crds/*.yaml. DO NOT EDIT.',
      '// Regenerate after changing a CRD: npm run build && node e2e/dist/tools/gen-api-types.js',
      "import type { ListMeta, ObjectMeta } from './meta.js';",
    ].join('\n'),
    `/** The API group of every Nodeward resource. */\nexport const GROUP = '${groups[0]!}';`,
    `/** The API version these types describe. */\nexport const VERSION = '${VERSION}';`,
    `/** apiVersion of every object of this version. */\nexport const API_VERSION = '${groups[0]!}/${VERSION}';`,
    ...kinds,
    ...emitter.declarations,
  ].join('\n\n') + '\n';
}

// client-node's YAML loader deserializes into its models (`_enum`, `xKubernetesListType`, ...) except
// below `items` and `additionalProperties`, which stay raw; both spellings are mapped to the raw one.
const RAW_KEYS: Readonly<Record<string, string>> = {
  _enum: 'enum',
  _default: 'default',
  _not: 'not',
  _ref: '$ref',
  xKubernetesIntOrString: 'x-kubernetes-int-or-string',
  xKubernetesListType: 'x-kubernetes-list-type',
  xKubernetesListMapKeys: 'x-kubernetes-list-map-keys',
  xKubernetesMapType: 'x-kubernetes-map-type',
  xKubernetesPreserveUnknownFields: 'x-kubernetes-preserve-unknown-fields',
  xKubernetesEmbeddedResource: 'x-kubernetes-embedded-resource',
  xKubernetesValidations: 'x-kubernetes-validations',
};

/** A schema in its raw OpenAPI spelling, whichever spelling it was loaded in. */
export function normalizeSchema(input: unknown): Schema {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value === undefined) continue;
    const rawKey = RAW_KEYS[key] ?? key;
    if (rawKey === 'properties') {
      out[rawKey] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, prop]) => [name, normalizeSchema(prop)]));
    } else if ((rawKey === 'items' || rawKey === 'additionalProperties') && typeof value === 'object' && value !== null) {
      out[rawKey] = normalizeSchema(value);
    } else {
      out[rawKey] = value;
    }
  }
  return out;
}

/** Parses the CRDs in crds/*.yaml under `root`, in file-name order. */
export async function readRepoCrds(root: string): Promise<CrdDocument[]> {
  const dir = path.join(root, 'crds');
  const files = (await readdir(dir)).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort();
  const docs: CrdDocument[] = [];
  for (const file of files) {
    docs.push(...(loadAllYaml(await readFile(path.join(dir, file), 'utf8')) as CrdDocument[]).filter((doc) => doc.kind === 'CustomResourceDefinition'));
  }
  return docs;
}

/** The repository root, three levels above this module (e2e/src/tools or e2e/dist/tools). */
export function toolRepoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

async function main(argv: readonly string[]): Promise<number> {
  const root = toolRepoRoot();
  const generated = generateApiTypes(await readRepoCrds(root));
  const target = path.join(root, API_TYPES_FILE);
  if (argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current === generated) return 0;
    process.stderr.write(`${API_TYPES_FILE} is stale: run node e2e/dist/tools/gen-api-types.js\n`);
    return 1;
  }
  await writeFile(target, generated);
  process.stderr.write(`wrote ${API_TYPES_FILE}\n`);
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`gen-api-types: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
