import * as k8s from '@kubernetes/client-node';
import { randomInt } from 'node:crypto';

/** A bootstrap token (`<id>.<secret>`), as kubeadm creates them for joining nodes. */
export interface BootstrapToken {
  /** Six characters [a-z0-9]: the Secret is `bootstrap-token-<id>`, the user `system:bootstrap:<id>`. */
  readonly id: string;
  /** Sixteen characters [a-z0-9]. */
  readonly secret: string;
  /** `<id>.<secret>`: what goes in the bootstrap kubeconfig. */
  readonly token: string;
  /** Groups besides `system:bootstrappers` (each `system:bootstrappers:…`). */
  readonly extraGroups: readonly string[];
  readonly expiration: Date;
}

/** What to create; every field is optional. */
export interface BootstrapTokenOptions {
  /** Extra groups (default `system:bootstrappers:nodeward`); each must start with `system:bootstrappers:`. */
  readonly extraGroups?: readonly string[];
  /** Lifetime (default one hour). A past expiration makes a token the API server rejects. */
  readonly ttlMs?: number;
}

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const groupPrefix = 'system:bootstrappers:';

/** A fresh random token (not yet stored anywhere). */
export function newBootstrapToken(opts: BootstrapTokenOptions = {}, now = new Date()): BootstrapToken {
  const extraGroups = opts.extraGroups ?? [`${groupPrefix}nodeward`];
  const bad = extraGroups.find((g) => !g.startsWith(groupPrefix));
  if (bad !== undefined) throw new Error(`bootstrap token group '${bad}' must start with '${groupPrefix}'`);
  const id = randomString(6);
  const secret = randomString(16);
  return { id, secret, token: `${id}.${secret}`, extraGroups, expiration: new Date(now.getTime() + (opts.ttlMs ?? 3600_000)) };
}

/** The kube-system Secret that makes kube-apiserver (--enable-bootstrap-token-auth) accept `token`. */
export function bootstrapTokenSecret(token: BootstrapToken): k8s.V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${token.id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    stringData: {
      'token-id': token.id,
      'token-secret': token.secret,
      expiration: token.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'usage-bootstrap-authentication': 'true',
      'auth-extra-groups': token.extraGroups.join(','),
      description: 'nodeward test harness bootstrap token',
    },
  };
}

/** Creates a bootstrap token Secret in kube-system and returns the token. */
export async function createBootstrapToken(kubeConfig: k8s.KubeConfig, opts: BootstrapTokenOptions = {}): Promise<BootstrapToken> {
  const token = newBootstrapToken(opts);
  await kubeConfig.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({ namespace: 'kube-system', body: bootstrapTokenSecret(token) });
  return token;
}

function randomString(length: number): string {
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}
