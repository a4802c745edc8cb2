import { createHash } from 'node:crypto';
import { compileRuntimePolicy, ownedCopy, parseRuntimePolicy, type BankName, type CompiledRuntimePolicy, type RoundPolicy } from '@nodeward/attest';
import type { Logger } from '../log.js';
import type { RoundContext, RoundContextProvider } from '../ports.js';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { parseDurationMs } from './duration.js';
import { runtimePolicySource } from './runtime-policy-source.js';
import { agentUrlAt } from './planner.js';

export interface RoundContextCaches {
  policies(): NodeAttestationPolicy[];
  nodeAttestations(): NodeAttestation[];
  nodes(): NodeView[];
  configMap(namespace: string, name: string): ConfigMapView | undefined;
  /** Indexed lookups (the informers have them); without, the lists are scanned. */
  nodeAttestation?(nodeName: string): NodeAttestation | undefined;
  node?(name: string): NodeView | undefined;
}

export interface RoundContextOptions {
  agentPort: number;
  defaultIntervalMs: number;
  /** Parses and compiles a Keylime runtime policy document; throws on invalid. Default: attest's. */
  parseRuntimePolicy?: (text: string) => CompiledRuntimePolicy;
  /**
   * The loader to share with the policy reconciler, so a policy version is compiled once per replica
   * (a 200,000-entry policy is ~1.6 s and ~94 MiB). Default: one of its own, logging warnings.
   */
  loadRuntimePolicy?: RuntimePolicyLoader;
  log: Logger;
}

/** The RoundPolicy fields that come from the policy spec alone. Pure. */
export function roundPolicyFromSpec(spec: NodeAttestationPolicy['spec'], akPublic: Uint8Array, ima: CompiledRuntimePolicy | undefined): RoundPolicy {
  const bank: BankName = spec.tpm.hashAlg ?? 'sha256';
  const expected = spec.tpm.expectedPcrs;
  const policy: RoundPolicy = {
    akPublic,
    pcrSelection: { [bank]: [...spec.tpm.pcrs].sort((a, b) => a - b) },
    ...(expected && Object.keys(expected).length > 0 ? { expectedPcrs: { [bank]: { ...expected } } } : {}),
    ...(ima === undefined ? {} : { ima, imaViolations: spec.ima?.tolerateViolations === true ? 'ignore' : 'fail' }),
    ...(spec.measuredBoot ? { bootPolicy: bootPolicyFromSpec(spec.measuredBoot, bank) } : {}),
    ...(spec.verity ? { verity: { devices: spec.verity.devices.map((d) => ({ name: d.name, allowedRootHashes: [...d.allowedRootHashes] })) } } : {}),
  };
  return policy;
}

function bootPolicyFromSpec(mb: NonNullable<NodeAttestationPolicy['spec']['measuredBoot']>, bank: BankName): NonNullable<RoundPolicy['bootPolicy']> {
  return {
    ...(mb.secureBootRequired === undefined ? {} : { secureBootRequired: mb.secureBootRequired }),
    ...(mb.allowedBootDigests === undefined ? {} : { allowedBootDigests: { bank, digests: [...mb.allowedBootDigests] } }),
    ...(mb.requiredKernelCmdline === undefined ? {} : { requiredKernelCmdline: [...mb.requiredKernelCmdline] }),
  };
}

/** Once per compiled policy version: what in it is not honoured (e.g. a verification key skipped). */
export function logRuntimePolicyWarnings(log: Logger, configMap: string, policy: CompiledRuntimePolicy): void {
  for (const warning of policy.warnings) log.warn('runtime policy: part of it is not honoured', { configMap, warning });
}

/** A policy's runtime policy: compiled (or none configured), or why it cannot be used. */
export type RuntimePolicyLoad =
  | { ok: true; policy?: CompiledRuntimePolicy; digest?: string }
  /** configMap: namespace/name/key. */
  | { ok: false; reason: 'ConfigMapNotFound' | 'KeyNotFound' | 'RuntimePolicyInvalid'; message: string; configMap: string };

export type RuntimePolicyLoader = (spec: NodeAttestationPolicy['spec']) => RuntimePolicyLoad;

/**
 * Loads policies' runtime policies from the ConfigMap cache (plain `data`, or gzip in `binaryData`
 * split over parts: runtime-policy-source.ts), compiled once per version of every ConfigMap read;
 * `digest` (SHA-256 of the document) tells a changed content apart. `onCompiled` sees each newly
 * compiled policy once.
 */
export function makeRuntimePolicyLoader(
  caches: Pick<RoundContextCaches, 'configMap'>,
  parseFn?: (text: string) => CompiledRuntimePolicy,
  onCompiled?: (configMap: string, policy: CompiledRuntimePolicy) => void,
): RuntimePolicyLoader {
  const parsed = new Map<string, { version: string; policy: CompiledRuntimePolicy; digest: string }>();
  const parse = parseFn ?? ((text: string): CompiledRuntimePolicy => compileRuntimePolicy(parseRuntimePolicy(text)));
  return (spec) => {
    const ref = spec.ima?.runtimePolicy;
    if (ref === undefined) return { ok: true };
    const name = `${ref.configMapRef.namespace}/${ref.configMapRef.name}`;
    const id = `${name}/${ref.key}`;
    if (caches.configMap(ref.configMapRef.namespace, ref.configMapRef.name) === undefined) {
      return { ok: false, reason: 'ConfigMapNotFound', message: `spec.ima.runtimePolicy: ConfigMap ${name} not found`, configMap: id };
    }
    const source = runtimePolicySource((ns, n) => caches.configMap(ns, n), ref);
    if (!source.ok) return { ok: false, reason: 'KeyNotFound', message: `spec.ima.runtimePolicy: ${source.reason} (${id})`, configMap: id };
    const hit = parsed.get(id);
    if (hit !== undefined && hit.version === source.version && source.version !== '') return { ok: true, policy: hit.policy, digest: hit.digest };
    try {
      const text = source.read();
      const policy = parse(text);
      const digest = createHash('sha256').update(text).digest('hex');
      parsed.set(id, { version: source.version, policy, digest });
      onCompiled?.(id, policy);
      return { ok: true, policy, digest };
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { ok: false, reason: 'RuntimePolicyInvalid', message: `spec.ima.runtimePolicy: ${id} is not a valid Keylime runtime policy: ${why}`.slice(0, 4096), configMap: id };
    }
  };
}

/**
 * SHA-256 over everything a round verifies against except the AK: PCR selection and expectations,
 * boot and verity rules, and the runtime policy document's digest. A changed digest means the state
 * saved under the old one no longer proves anything. Pure.
 */
export function policyDigestOf(policy: RoundPolicy, runtimePolicyDigest: string | undefined): string {
  const rules = { pcrSelection: policy.pcrSelection, expectedPcrs: policy.expectedPcrs ?? null, bootPolicy: policy.bootPolicy ?? null,
    verity: policy.verity ?? null, imaViolations: policy.imaViolations ?? null, runtimePolicy: runtimePolicyDigest ?? null };
  return createHash('sha256').update(JSON.stringify(rules, sortedKeys)).digest('hex');
}

/** JSON.stringify replacer writing object keys sorted, so key order (as the API server returns it) does not count. */
function sortedKeys(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const o = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/** The NodeAttestation attesting a node: by the caches' index when they have one, else by scanning. */
export const attestationFor = (c: RoundContextCaches, nodeName: string): NodeAttestation | undefined =>
  (c.nodeAttestation !== undefined ? c.nodeAttestation(nodeName) : c.nodeAttestations().find((a) => a.spec.nodeName === nodeName));
/** A Node: by the caches' index when they have one, else by scanning. */
export const findNode = (c: RoundContextCaches, name: string): NodeView | undefined =>
  (c.node !== undefined ? c.node(name) : c.nodes().find((n) => n.metadata.name === name));

/** How often the skipped-rounds warning for one broken runtime policy is logged at most. */
const SKIP_WARN_EVERY_MS = 60_000;

/**
 * RoundContextProvider over the informer caches every replica keeps. Parsed runtime policies are
 * cached by ConfigMap resourceVersion. Undefined (round skipped) when the node is not attested,
 * not registered, has no address or one its identity was not proven at, or its runtime policy is missing or invalid (logged).
 */
export function makeRoundContextProvider(caches: RoundContextCaches, o: RoundContextOptions): RoundContextProvider {
  const load = o.loadRuntimePolicy ?? makeRuntimePolicyLoader(caches, o.parseRuntimePolicy, (id, policy) => logRuntimePolicyWarnings(o.log, id, policy));
  // Every node's round is skipped while a runtime policy is broken: one line per ConfigMap and reason
  // per minute, not one per round (5,000 nodes at 30 s would be 166 lines a second).
  const warned = new Map<string, number>();
  const runtimePolicy = (spec: NodeAttestationPolicy['spec']): { ok: boolean; policy?: CompiledRuntimePolicy; digest?: string } => {
    const r = load(spec);
    if (!r.ok) {
      const id = `${r.configMap}/${r.reason}`;
      const now = Date.now();
      if ((warned.get(id) ?? Number.NEGATIVE_INFINITY) + SKIP_WARN_EVERY_MS <= now) {
        warned.set(id, now);
        const msg = r.reason === 'RuntimePolicyInvalid' ? 'runtime policy invalid; rounds skipped' : 'runtime policy ConfigMap or key missing; rounds skipped';
        o.log.warn(msg, { configMap: r.configMap, reason: r.reason, error: r.message });
      }
    }
    return r;
  };

  // The decoded AK per node, reused while its base64 is unchanged: attest's prepareAk caches the
  // parsed key per Buffer (checking its content), so a fresh Buffer per round would rebuild the key.
  // Kept per node for as long as it is attested, so not a view into Node's shared Buffer pool.
  const aks = new Map<string, { b64: string; bytes: Buffer }>();
  const akBytes = (nodeName: string, b64: string): Buffer => {
    const hit = aks.get(nodeName);
    if (hit?.b64 === b64) return hit.bytes;
    const bytes = ownedCopy(Buffer.from(b64, 'base64'));
    aks.set(nodeName, { b64, bytes });
    return bytes;
  };

  return (nodeName: string): RoundContext | undefined => {
    const na = attestationFor(caches, nodeName);
    const identity = na?.status?.identity;
    if (na === undefined || identity?.akPublic === undefined) return undefined;
    const policy = caches.policies().find((p) => p.metadata.name === na.spec.policyName);
    // Rounds go only where the agent proved this identity by TPM activation: the Node is not read (a
    // follower does not cache Nodes). When the kubelet reports another address, the leader drops the
    // node's schedule until the agent there proves the same TPM (node-reconciler's ensureAddressVerified).
    const address = identity.agentAddress;
    if (policy === undefined || address === undefined || address === '') return undefined;
    const agentUrl = agentUrlAt(nodeName, address, o.agentPort);
    const ima = runtimePolicy(policy.spec);
    if (!ima.ok) return undefined;
    const roundPolicy = roundPolicyFromSpec(policy.spec, akBytes(nodeName, identity.akPublic), ima.policy);
    return {
      target: { nodeName, policyName: policy.metadata.name, agentUrl, intervalMs: parseDurationMs(policy.spec.interval) ?? o.defaultIntervalMs },
      policy: roundPolicy,
      akName: identity.akName,
      ekFingerprint: identity.ekCertificateFingerprint,
      policyDigest: policyDigestOf(roundPolicy, ima.digest),
    };
  };
}
