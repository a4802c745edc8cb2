import type { LabelSelector } from '../status/resources.js';

/**
 * Labels under kubernetes.io / k8s.io that NodeRestriction still lets a kubelet set on its own Node
 * (k8s.io/kubelet/pkg/apis IsKubeletLabel): the well-known topology, OS, arch and instance-type labels.
 */
const KUBELET_LABELS: ReadonlySet<string> = new Set([
  'kubernetes.io/hostname', 'kubernetes.io/arch', 'kubernetes.io/os',
  'beta.kubernetes.io/arch', 'beta.kubernetes.io/os', 'beta.kubernetes.io/instance-type', 'node.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone',
  'topology.kubernetes.io/region', 'topology.kubernetes.io/zone',
]);
/** Label namespaces (and their subdomains) a kubelet may set freely. */
const KUBELET_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

const within = (domain: string, parent: string): boolean => domain === parent || domain.endsWith(`.${parent}`);

/**
 * Whether a node's kubelet can add, change or remove this label on its own Node under NodeRestriction:
 * every label outside the kubernetes.io and k8s.io namespaces, and the kubelet's own labels inside them.
 * Labels under `node-restriction.kubernetes.io/` (and other kubernetes.io labels) only an administrator
 * can set. Pure.
 */
export function isKubeletWritable(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return true;
  const domain = key.slice(0, slash).toLowerCase();
  if (!within(domain, 'kubernetes.io') && !within(domain, 'k8s.io')) return true;
  return KUBELET_LABELS.has(key) || KUBELET_NAMESPACES.some((ns) => within(domain, ns));
}

/** The selector's label keys a kubelet can write (so a node can join or leave the policy by itself), sorted. Pure. */
export function kubeletWritableSelectorKeys(selector: LabelSelector | undefined): string[] {
  const keys = [...Object.keys(selector?.matchLabels ?? {}), ...(selector?.matchExpressions ?? []).map((e) => e.key)];
  return [...new Set(keys)].filter(isKubeletWritable).sort();
}
