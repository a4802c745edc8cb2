import { gunzipSync } from 'node:zlib';
import { joinRuntimePolicyParts, partCount, runtimePolicyPartName } from '@nodeward/attest';
import type { ConfigMapView } from '../status/resources.js';

/** Largest runtime policy document the operator decompresses (Keylime's reach tens of MB). */
export const MAX_RUNTIME_POLICY_BYTES = 256 * 1024 * 1024;

export interface RuntimePolicyRefSpec {
  readonly configMapRef: { readonly name: string; readonly namespace: string };
  readonly key: string;
}

/**
 * Where a runtime policy document is (see attest's runtime-policy-parts.ts): `data[key]`, plain JSON;
 * or `binaryData[key]`, gzip-compressed, split over `<name>-part-<i>` when it has more parts.
 * `version` (the resourceVersions of every ConfigMap read) changes whenever any part does, so the
 * caller decodes, joins and decompresses (`read`, which throws on a bad part) only then.
 */
export type RuntimePolicySource =
  | { readonly ok: true; readonly version: string; read(): string }
  | { readonly ok: false; readonly reason: string };

type Lookup = (namespace: string, name: string) => ConfigMapView | undefined;

function decompress(bytes: Buffer): string {
  const gzip = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  return (gzip ? gunzipSync(bytes, { maxOutputLength: MAX_RUNTIME_POLICY_BYTES }) : bytes).toString('utf8');
}

function splitSource(lookup: Lookup, ref: RuntimePolicyRefSpec, first: ConfigMapView): RuntimePolicySource {
  const { namespace, name } = ref.configMapRef;
  const parts = partCount(first.metadata.annotations);
  if (typeof parts === 'string') return { ok: false, reason: `runtime policy ConfigMap: ${parts}` };
  const maps: ConfigMapView[] = [first];
  for (let i = 2; i <= parts; i++) {
    const cm = lookup(namespace, runtimePolicyPartName(name, i));
    if (cm?.binaryData?.[ref.key] === undefined) return { ok: false, reason: `runtime policy part ${i} (ConfigMap ${namespace}/${runtimePolicyPartName(name, i)}, key ${ref.key}) is missing` };
    maps.push(cm);
  }
  const version = maps.map((m) => m.metadata.resourceVersion ?? '').join(',');
  return {
    ok: true,
    version,
    read: () => {
      const joined = joinRuntimePolicyParts(first.metadata.annotations, (i) => {
        const b64 = maps[i - 1]?.binaryData?.[ref.key];
        return b64 === undefined ? undefined : Buffer.from(b64, 'base64');
      });
      if (!joined.ok) throw new Error(joined.reason);
      return decompress(joined.bytes);
    },
  };
}

/** Finds the runtime policy document a NodeAttestationPolicy references. Pure over the lookup. */
export function runtimePolicySource(lookup: Lookup, ref: RuntimePolicyRefSpec): RuntimePolicySource {
  const { namespace, name } = ref.configMapRef;
  const cm = lookup(namespace, name);
  const text = cm?.data?.[ref.key];
  if (cm !== undefined && text !== undefined) return { ok: true, version: cm.metadata.resourceVersion ?? '', read: () => text };
  if (cm?.binaryData?.[ref.key] === undefined) return { ok: false, reason: 'runtime policy ConfigMap or key missing' };
  return splitSource(lookup, ref, cm);
}
