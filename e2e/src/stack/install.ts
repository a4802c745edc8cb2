import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Harness } from '../harness/harness.js';
import { repoRoot } from '../harness/repo-root.js';

/**
 * Installs Nodeward the way the README tells users to (`kubectl apply -k config/default --server-side`)
 * and gives the operator what a pod of the shipped Deployment gets: a token of the `nodeward-operator`
 * ServiceAccount, from the TokenRequest API (no controller-manager runs to mint one). The operator then
 * runs under the shipped RBAC, not as an administrator: a rule missing from config/rbac fails the tests.
 */
export const OPERATOR_SERVICE_ACCOUNT = { namespace: 'nodeward-system', name: 'nodeward-operator' } as const;

/** The harness runs no Prometheus Operator: a schemaless stand-in for its CRD, so the PrometheusRule applies. */
const PROMETHEUS_RULE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
  metadata: { name: 'prometheusrules.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com', scope: 'Namespaced',
    names: { kind: 'PrometheusRule', listKind: 'PrometheusRuleList', plural: 'prometheusrules', singular: 'prometheusrule' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

export interface Installed {
  /** A kubeconfig holding the operator ServiceAccount's token (for `KUBECONFIG` of operator processes). */
  readonly operatorKubeconfigPath: string;
}

type Kubectl = (args: string[], input?: string) => Promise<string>;

/** `kubectl apply -k <kustomization> --server-side`, then a TokenRequest token for the operator. */
export async function installNodeward(harness: Harness, kubectl: Kubectl, opts: { dir: string; kustomization?: string }): Promise<Installed> {
  await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(PROMETHEUS_RULE_CRD));
  await kubectl(['wait', '--for=condition=Established', 'crd/prometheusrules.monitoring.coreos.com', '--timeout=30s']);
  await kubectl(['apply', '--server-side', '-k', opts.kustomization ?? join(repoRoot(), 'config/default')]);
  await kubectl(['wait', '--for=condition=Established', 'crd', '-l', 'app.kubernetes.io/part-of=nodeward', '--timeout=30s']);
  const operatorKubeconfigPath = join(opts.dir, 'operator-kubeconfig');
  await writeFile(operatorKubeconfigPath, await serviceAccountKubeconfig(harness, kubectl), { mode: 0o600 });
  return { operatorKubeconfigPath };
}

/** A kubeconfig for the operator ServiceAccount with a token from the TokenRequest API (`kubectl create token`). */
export async function serviceAccountKubeconfig(harness: Harness, kubectl: Kubectl, sa = OPERATOR_SERVICE_ACCOUNT): Promise<string> {
  const token = (await kubectl(['create', 'token', sa.name, '-n', sa.namespace, '--duration=24h'])).trim();
  const cluster = { server: harness.server, 'certificate-authority-data': Buffer.from(harness.pki.ca.certPem).toString('base64') };
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': sa.name,
    clusters: [{ name: 'testenv', cluster }],
    users: [{ name: sa.name, user: { token } }],
    contexts: [{ name: sa.name, context: { cluster: 'testenv', user: sa.name, namespace: sa.namespace } }],
  });
}
