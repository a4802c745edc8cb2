import type { Stack } from '../stack/stack.js';

/** What the scenarios read back, the way a user would: through kubectl. */
export interface NodeAttestationView {
  status?: {
    phase?: string;
    lastFailure?: { reason?: string; detail?: string };
    enforcement?: { tainted?: boolean; cordoned?: boolean; credentialsRevoked?: boolean };
    identity?: { akName?: string };
    conditions?: { type: string; status: string; reason: string }[];
  };
}
export interface NodeView { spec?: { unschedulable?: boolean; taints?: { key: string; effect: string }[] } }
export interface EventView { reason: string; involvedObject: { kind: string; name: string }; message?: string; count?: number }

export async function getJson<T>(stack: Stack, args: string[]): Promise<T> {
  return JSON.parse(await stack.kubectl([...args, '-o', 'json'])) as T;
}

export const nodeAttestation = (stack: Stack, node: string): Promise<NodeAttestationView> => getJson(stack, ['get', 'nodeattestation', node]);
export const nodeObject = (stack: Stack, node: string): Promise<NodeView> => getJson(stack, ['get', 'node', node]);

export async function phaseOf(stack: Stack, node: string): Promise<string | undefined> {
  try {
    return (await nodeAttestation(stack, node)).status?.phase;
  } catch {
    return undefined;
  }
}

export async function eventsFor(stack: Stack, name: string): Promise<EventView[]> {
  const list = await getJson<{ items: EventView[] }>(stack, ['get', 'events', '--all-namespaces']);
  return list.items.filter((e) => e.involvedObject.name === name);
}

export const hasTaint = (n: NodeView, key = 'attestation.nodeward.io/untrusted'): boolean => (n.spec?.taints ?? []).some((t) => t.key === key);
