import { X509Certificate } from 'node:crypto';
import type { ConfigMapView, NodeAttestationPolicySpec } from '../status/resources.js';

/** A policy's EK trust anchors: usable (or none configured), or why not. */
export type TrustAnchorsLoad =
  | { ok: true; certificates: number }
  | { ok: false; reason: 'ConfigMapNotFound' | 'KeyNotFound' | 'NoCertificates' | 'CertificateInvalid'; message: string };

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const FIELD = 'spec.tpm.ekTrustAnchors';

/**
 * Checks the ConfigMap a policy's `tpm.ekTrustAnchors` names: it exists, has the key (or any data),
 * and holds at least one PEM certificate, every one of which parses. Registration reads the same
 * data (trustAnchorsFrom) and refuses every node while this is not ok. No I/O: the ConfigMap comes
 * from the cache.
 */
export function checkTrustAnchors(spec: Pick<NodeAttestationPolicySpec, 'tpm'>, configMap: (namespace: string, name: string) => ConfigMapView | undefined): TrustAnchorsLoad {
  const ref = spec.tpm.ekTrustAnchors;
  if (ref === undefined) return { ok: true, certificates: 0 };
  const id = `${ref.configMapRef.namespace}/${ref.configMapRef.name}`;
  const cm = configMap(ref.configMapRef.namespace, ref.configMapRef.name);
  if (cm === undefined) return { ok: false, reason: 'ConfigMapNotFound', message: `${FIELD}: ConfigMap ${id} not found` };
  const texts = ref.key === undefined ? Object.values(cm.data ?? {}) : [cm.data?.[ref.key]].filter((t): t is string => t !== undefined);
  if (texts.length === 0) {
    return { ok: false, reason: 'KeyNotFound', message: ref.key === undefined ? `${FIELD}: ConfigMap ${id} has no data` : `${FIELD}: ConfigMap ${id} has no key ${ref.key}` };
  }
  const blocks = texts.flatMap((t) => t.match(PEM_BLOCK) ?? []);
  if (blocks.length === 0) return { ok: false, reason: 'NoCertificates', message: `${FIELD}: ConfigMap ${id} holds no PEM certificate` };
  for (const [i, pem] of blocks.entries()) {
    try {
      new X509Certificate(pem);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { ok: false, reason: 'CertificateInvalid', message: `${FIELD}: certificate ${i + 1} in ConfigMap ${id} does not parse: ${why}`.slice(0, 1024) };
    }
  }
  return { ok: true, certificates: blocks.length };
}
