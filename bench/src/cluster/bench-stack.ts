import * as k8s from '@kubernetes/client-node';
import { attestationPolicy, NODEWARD_NAMESPACE, startStack, type OperatorProcess, type Stack } from '@nodeward/e2e/stack';
import { ClusterPoller, type PollerOptions } from './cluster-poller.js';

/** The stack, operator, policy and poller every cluster benchmark starts from. */
export const SELECTOR_LABEL = 'nodeward.io/attest';

export interface BenchStack {
  stack: Stack;
  operator: OperatorProcess;
  poller: ClusterPoller;
  core: k8s.CoreV1Api;
  stop(): Promise<void>;
}

export interface BenchStackOptions {
  interval: string;
  poll: Omit<PollerOptions, 'namespace'>;
  operatorEnv?: Record<string, string>;
  log?: (line: string) => void;
  /** Runs before the operator starts (e.g. to rewrite the trust anchors or runtime policy). */
  before?: (stack: Stack) => Promise<void>;
}

export async function startBenchStack(o: BenchStackOptions): Promise<BenchStack> {
  const stack = await startStack({ log: o.log ?? ((): void => undefined) });
  try {
    await o.before?.(stack);
    const operator = await stack.startOperator('nodeward-operator-0', o.operatorEnv ?? {});
    await stack.apply([attestationPolicy({ name: 'fleet', selector: { [SELECTOR_LABEL]: 'true' }, interval: o.interval, verityRootHash: stack.verityRootHash })]);
    const poller = new ClusterPoller(stack.harness.kubeConfig, { ...o.poll, namespace: NODEWARD_NAMESPACE });
    poller.start();
    const core = stack.harness.kubeConfig.makeApiClient(k8s.CoreV1Api);
    return { stack, operator, poller, core, stop: async () => { await poller.stop(); await stack.stop(); } };
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

/** Puts a node under (or out of) the policy by its selector label: one merge patch. */
export async function setSelected(core: k8s.CoreV1Api, node: string, selected: boolean): Promise<void> {
  await core.patchNode({ name: node, body: { metadata: { labels: { [SELECTOR_LABEL]: selected ? 'true' : null } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
