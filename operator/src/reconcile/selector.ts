import type { LabelSelector } from '../status/resources.js';

/**
 * Whether labels satisfy a metav1.LabelSelector (matchLabels AND every matchExpression).
 * An empty selector matches everything, as the CRD documents. An unknown operator matches nothing.
 */
export function matchesSelector(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  const byLabel = Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => l[k] === v);
  return byLabel && (selector?.matchExpressions ?? []).every((e) => matchesExpression(e, l));
}

function matchesExpression(e: NonNullable<LabelSelector['matchExpressions']>[number], labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, e.key);
  const values = e.values ?? [];
  switch (e.operator) {
    case 'In':
      return has && values.includes(labels[e.key]!);
    case 'NotIn':
      return !has || !values.includes(labels[e.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false;
  }
}
