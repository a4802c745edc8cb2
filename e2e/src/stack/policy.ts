import type { NodeAttestationPolicySpec } from '@nodeward/operator';

export const NODEWARD_NAMESPACE = 'nodeward-system';
export const TRUST_ANCHORS_CONFIGMAP = 'tpm-ek-trust-anchors';
export const RUNTIME_POLICY_CONFIGMAP = 'ima-runtime-policy';

/** The files a healthy simulated node runs after boot: what its known-good IMA log holds. */
export const KNOWN_GOOD_FILES: readonly { path: string; contents: string }[] = [
  { path: '/usr/bin/kubelet', contents: 'kubelet v1.33.13 (simulated)' },
  { path: '/usr/bin/containerd', contents: 'containerd 2.1 (simulated)' },
  { path: '/usr/sbin/sshd', contents: 'OpenSSH 9.2 (simulated)' },
];

export interface PolicyOptions {
  name: string;
  selector: Record<string, string>;
  interval?: string;
  mode?: 'Enforce' | 'Audit';
  recovery?: 'Automatic' | 'Manual';
  verityRootHash: string;
  pcrs?: number[];
  afterMisses?: number;
}

/** A policy with IMA, measured-boot and dm-verity rules, taint + cordon + revoke on failure. */
export function attestationPolicy(o: PolicyOptions): { apiVersion: string; kind: string; metadata: { name: string }; spec: NodeAttestationPolicySpec } {
  const enforce = (o.mode ?? 'Enforce') === 'Enforce';
  return {
    apiVersion: 'attestation.nodeward.io/v1alpha1',
    kind: 'NodeAttestationPolicy',
    metadata: { name: o.name },
    spec: {
      nodeSelector: { matchLabels: o.selector },
      interval: o.interval ?? '1s',
      mode: o.mode ?? 'Enforce',
      recovery: o.recovery ?? 'Automatic',
      tpm: {
        hashAlg: 'sha256',
        pcrs: o.pcrs ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        akKeyType: 'rsa',
        ekTrustAnchors: { configMapRef: { name: TRUST_ANCHORS_CONFIGMAP, namespace: NODEWARD_NAMESPACE }, key: 'roots.pem' },
      },
      measuredBoot: { secureBootRequired: true, requiredKernelCmdline: ['roothash=', 'ima_policy=tcb'] },
      ima: { runtimePolicy: { configMapRef: { name: RUNTIME_POLICY_CONFIGMAP, namespace: NODEWARD_NAMESPACE }, key: 'runtime-policy.json' } },
      verity: { devices: [{ name: 'root', allowedRootHashes: [o.verityRootHash] }] },
      ...(enforce ? {
        onFailure: { taint: { effect: 'NoSchedule' }, cordon: true, revokeCredentials: true },
        onUnreachable: { afterMisses: o.afterMisses ?? 3, taint: { effect: 'NoSchedule' } },
      } : { onUnreachable: { afterMisses: o.afterMisses ?? 3 } }),
    },
  };
}

export function configMap(name: string, data: Record<string, string>): object {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NODEWARD_NAMESPACE }, data };
}
