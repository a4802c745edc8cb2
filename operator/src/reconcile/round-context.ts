import { compileRuntimePolicy, ownedCopy, parseRuntimePolicy, type BankName, type CompiledRuntimePolicy, type RoundPolicy } from '@nodeward/attest';
import type { Logger } from '../log.js';
import type { RoundContext, RoundContextProvider } from '../ports.js';
import type { ConfigMapView, NodeAttestation, NodeAttestationPolicy, NodeView } from '../status/resources.js';
import { parseDurationMs } from './duration.js';
import { agentUrlFor, internalIpOf } from './planner.js';

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
    ...(ima === undefined ? {} : { ima }),
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

/** The NodeAttestation attesting a node: by the caches' index when they have one, else by scanning. */
export const attestationFor = (c: RoundContextCaches, nodeName: string): NodeAttestation | undefined =>
  (c.nodeAttestation !== undefined ? c.nodeAttestation(nodeName) : c.nodeAttestations().find((a) => a.spec.nodeName === nodeName));
/** A Node: by the caches' index when they have one, else by scanning. */
export const findNode = (c: RoundContextCaches, name: string): NodeView | undefined =>
  (c.node !== undefined ? c.node(name) : c.nodes().find((n) => n.metadata.name === name));

/**
 * RoundContextProvider over the informer caches every replica keeps. Parsed runtime policies are
 * cached by ConfigMap resourceVersion. Undefined (round skipped) when the node is not attested,
 * not registered, has no address or one its identity was not proven at, or its runtime policy is missing or invalid (logged).
 */
export function makeRoundContextProvider(caches: RoundContextCaches, o: RoundContextOptions): RoundContextProvider {
  const parsed = new Map<string, { version: string; policy: CompiledRuntimePolicy }>();
  const parse = o.parseRuntimePolicy ?? ((text: string): CompiledRuntimePolicy => compileRuntimePolicy(parseRuntimePolicy(text)));

  const runtimePolicy = (spec: NodeAttestationPolicy['spec']): { ok: boolean; policy?: CompiledRuntimePolicy } => {
    const ref = spec.ima?.runtimePolicy;
    if (ref === undefined) return { ok: true };
    const cm = caches.configMap(ref.configMapRef.namespace, ref.configMapRef.name);
    const text = cm?.data?.[ref.key];
    const id = `${ref.configMapRef.namespace}/${ref.configMapRef.name}/${ref.key}`;
    if (text === undefined) {
      o.log.warn('runtime policy ConfigMap or key missing; round skipped', { configMap: id });
      return { ok: false };
    }
    const version = cm?.metadata.resourceVersion ?? '';
    const hit = parsed.get(id);
    if (hit !== undefined && hit.version === version && version !== '') return { ok: true, policy: hit.policy };
    try {
      const policy = parse(text);
      parsed.set(id, { version, policy });
      return { ok: true, policy };
    } catch (e) {
      o.log.warn('runtime policy invalid; round skipped', { configMap: id, error: e });
      return { ok: false };
    }
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
    const node = findNode(caches, nodeName);
    const agentUrl = node === undefined ? undefined : agentUrlFor(node, o.agentPort);
    if (policy === undefined || agentUrl === undefined) return undefined;
    // An address the identity was not proven at gets no round until the reconciler re-verifies it there.
    if (identity.agentAddress !== internalIpOf(node!)) return undefined;
    const ima = runtimePolicy(policy.spec);
    if (!ima.ok) return undefined;
    return {
      target: { nodeName, policyName: policy.metadata.name, agentUrl, intervalMs: parseDurationMs(policy.spec.interval) ?? o.defaultIntervalMs },
      policy: roundPolicyFromSpec(policy.spec, akBytes(nodeName, identity.akPublic), ima.policy),
      akName: identity.akName,
      ekFingerprint: identity.ekCertificateFingerprint,
    };
  };
}
