import { createHash } from 'node:crypto';

/**
 * A runtime policy of any realistic size in ConfigMaps. Keylime policies reach tens of MB (a
 * 200,000-file policy is ~27 MB of JSON, ~11 MB gzip-compressed), and the API server refuses a
 * ConfigMap over 1 MiB. So the policy is gzip-compressed and the gzip stream split into parts: part
 * 1 in the referenced ConfigMap's `binaryData[key]`, part i (2..n) in ConfigMap `<name>-part-<i>` of
 * the same namespace under the same key. The first carries the number of parts and the SHA-256 of
 * the whole stream, so a reader never uses a mix of two versions while an update is half applied.
 * A policy that fits stays in `data[key]` as plain JSON; a single gzip part needs no annotations.
 * `nodeward ima policy pack` writes the ConfigMaps; the operator joins them.
 */

export const RUNTIME_POLICY_PARTS_ANNOTATION = 'attestation.nodeward.io/runtime-policy-parts';
export const RUNTIME_POLICY_SHA256_ANNOTATION = 'attestation.nodeward.io/runtime-policy-sha256';
/** Bytes of gzip per ConfigMap: below the API server's 1 MiB, with room for the object's metadata. */
export const RUNTIME_POLICY_PART_BYTES = 1000 * 1024;
/** Most parts a policy may have (~100 MB of gzip): a bound on what the operator joins. */
export const RUNTIME_POLICY_MAX_PARTS = 100;

export interface RuntimePolicyRef {
  readonly name: string;
  readonly namespace: string;
  readonly key: string;
}

/** A ConfigMap as `kubectl apply` takes it. */
export interface RuntimePolicyConfigMap {
  readonly apiVersion: 'v1';
  readonly kind: 'ConfigMap';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly annotations?: Readonly<Record<string, string>> };
  /** key → base64 of the part's bytes. */
  readonly binaryData: Readonly<Record<string, string>>;
}

/** Name of part i (1-based): the referenced ConfigMap itself, then `<name>-part-<i>`. */
export function runtimePolicyPartName(name: string, i: number): string {
  return i === 1 ? name : `${name}-part-${i}`;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The ConfigMaps holding a gzip-compressed policy; one when it fits. Throws RangeError past the part bound. */
export function runtimePolicyConfigMaps(gzip: Uint8Array, ref: RuntimePolicyRef, partBytes = RUNTIME_POLICY_PART_BYTES): RuntimePolicyConfigMap[] {
  const n = Math.max(1, Math.ceil(gzip.length / partBytes));
  if (n > RUNTIME_POLICY_MAX_PARTS) throw new RangeError(`the compressed policy needs ${n} ConfigMaps, more than ${RUNTIME_POLICY_MAX_PARTS}`);
  const out: RuntimePolicyConfigMap[] = [];
  for (let i = 1; i <= n; i++) {
    const part = Buffer.from(gzip.buffer, gzip.byteOffset + (i - 1) * partBytes, Math.min(partBytes, gzip.length - (i - 1) * partBytes));
    const annotations = i === 1 && n > 1 ? { [RUNTIME_POLICY_PARTS_ANNOTATION]: String(n), [RUNTIME_POLICY_SHA256_ANNOTATION]: sha256(gzip) } : undefined;
    const metadata = { name: runtimePolicyPartName(ref.name, i), namespace: ref.namespace, ...(annotations ? { annotations } : {}) };
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata, binaryData: { [ref.key]: part.toString('base64') } });
  }
  return out;
}

/** The declared number of parts (1 when not annotated), or why it is unusable. */
export function partCount(annotations: Readonly<Record<string, string>> | undefined): number | string {
  const declared = annotations?.[RUNTIME_POLICY_PARTS_ANNOTATION];
  const n = declared === undefined ? 1 : Number(declared);
  if (Number.isInteger(n) && n >= 1 && n <= RUNTIME_POLICY_MAX_PARTS) return n;
  return `${RUNTIME_POLICY_PARTS_ANNOTATION} ${JSON.stringify(declared)} is not 1..${RUNTIME_POLICY_MAX_PARTS}`;
}

export type JoinedParts = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly reason: string };

/**
 * Joins the parts of a split policy: `annotations` of the first ConfigMap, `part(i)` the bytes of
 * part i (1-based) or undefined when its ConfigMap or key is missing. Checks the count and the digest.
 */
export function joinRuntimePolicyParts(annotations: Readonly<Record<string, string>> | undefined, part: (i: number) => Uint8Array | undefined): JoinedParts {
  const n = partCount(annotations);
  if (typeof n === 'string') return { ok: false, reason: n };
  const want = annotations?.[RUNTIME_POLICY_SHA256_ANNOTATION];
  if (n > 1 && want === undefined) return { ok: false, reason: `${n} parts without ${RUNTIME_POLICY_SHA256_ANNOTATION}` };
  const parts: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) {
    const p = part(i);
    if (p === undefined) return { ok: false, reason: `part ${i} of ${n} is missing` };
    parts.push(p);
  }
  const bytes = Buffer.concat(parts);
  if (want !== undefined && sha256(bytes) !== want.toLowerCase()) {
    return { ok: false, reason: `the ${n} parts do not hash to ${RUNTIME_POLICY_SHA256_ANNOTATION} (an update is under way, or a part is from another version)` };
  }
  return { ok: true, bytes };
}
