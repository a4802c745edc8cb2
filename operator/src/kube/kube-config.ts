import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig file when given (or KUBECONFIG), in-cluster service account otherwise. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined && kubeconfigPath !== '') kc.loadFromFile(kubeconfigPath);
  else if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined && process.env['KUBECONFIG'] === undefined) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}
