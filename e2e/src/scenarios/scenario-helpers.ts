import { X509Certificate } from 'node:crypto';
import { crlEntries } from '@nodeward/operator';
import { NODEWARD_NAMESPACE } from '../stack/policy.js';
import { waitFor, type Stack } from '../stack/stack.js';
import { eventsFor, getJson, hasTaint, nodeAttestation, nodeObject, phaseOf, type NodeAttestationView } from './kube-read.js';

/** Scenario steps shared by the end-to-end files: waits and read-backs through kubectl, as a user does. */
export const UNTRUSTED_TAINT = 'attestation.nodeward.io/untrusted';
export const UNREACHABLE_TAINT = 'attestation.nodeward.io/unreachable';

export async function waitPhase(stack: Stack, node: string, phase: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${node} ${phase}`, async () => (await phaseOf(stack, node)) === phase, timeoutMs);
}

/** Waits for Untrusted and returns the NodeAttestation as it then is. */
export async function waitUntrusted(stack: Stack, node: string, timeoutMs = 60_000): Promise<NodeAttestationView> {
  return waitFor(`${node} Untrusted`, async () => {
    const na = await nodeAttestation(stack, node);
    return na.status?.phase === 'Untrusted' ? na : undefined;
  }, timeoutMs);
}

export async function waitEnforced(stack: Stack, node: string, key = UNTRUSTED_TAINT, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${node} tainted ${key} and cordoned`, async () => {
    const n = await nodeObject(stack, node);
    return hasTaint(n, key) && n.spec?.unschedulable === true;
  }, timeoutMs);
}

export async function waitLifted(stack: Stack, node: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${node} untainted and schedulable`, async () => {
    const n = await nodeObject(stack, node);
    return (n.spec?.taints ?? []).every((t) => !t.key.startsWith('attestation.nodeward.io/')) && n.spec?.unschedulable !== true;
  }, timeoutMs);
}

export async function eventReasons(stack: Stack, name: string): Promise<string[]> {
  return (await eventsFor(stack, name)).map((e) => e.reason);
}

/**
 * How many times an Event reason was recorded for the Node (aggregated Events carry a count). The
 * operator records each Event for the Node and for its NodeAttestation, which share the name.
 */
export async function eventCount(stack: Stack, name: string, reason: string, kind = 'Node'): Promise<number> {
  return (await eventsFor(stack, name)).filter((e) => e.reason === reason && e.involvedObject.kind === kind).reduce((n, e) => n + (e.count ?? 1), 0);
}

export async function credentialSecret(stack: Stack, node: string): Promise<{ data?: Record<string, string> } | undefined> {
  const out = await stack.kubectl(['get', 'secret', '-n', NODEWARD_NAMESPACE, `nodeward-credential-${node}`, '--ignore-not-found', '-o', 'json']);
  return out.trim() === '' ? undefined : JSON.parse(out) as { data?: Record<string, string> };
}

/** The serial (lowercase hex) of the node's issued credential, once the operator has issued one. */
export async function waitCredentialSerial(stack: Stack, node: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(`${node} credential issued`, async () => {
    const crt = (await credentialSecret(stack, node))?.data?.['tls.crt'];
    return crt === undefined ? undefined : new X509Certificate(Buffer.from(crt, 'base64').toString()).serialNumber.toLowerCase();
  }, timeoutMs);
}

/** Every serial listed in the published CRL (ConfigMap nodeward-crl), duplicates kept. */
export async function crlSerials(stack: Stack): Promise<string[]> {
  const out = await stack.kubectl(['get', 'configmap', '-n', NODEWARD_NAMESPACE, 'nodeward-crl', '--ignore-not-found', '-o', 'json']);
  const pem = out.trim() === '' ? undefined : (JSON.parse(out) as { data?: Record<string, string> }).data?.['crl.pem'];
  if (pem === undefined || pem === '') return [];
  return crlEntries(pem).map((e) => normSerial(e.serial));
}

export const normSerial = (s: string): string => s.toLowerCase().replace(/^0+(?=.)/, '');

/** Waits for the credential to be revoked: Secret gone, serial in the CRL exactly once. */
export async function waitRevoked(stack: Stack, node: string, serial: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${node} credential revoked`, async () =>
    (await credentialSecret(stack, node)) === undefined && (await crlSerials(stack)).includes(normSerial(serial)), timeoutMs);
  const listed = (await crlSerials(stack)).filter((s) => s === normSerial(serial)).length;
  if (listed !== 1) throw new Error(`${node}'s serial ${serial} is listed ${listed} times in the CRL, expected once`);
}

/** Sum of a Prometheus counter's samples (optionally only those whose labels contain `labelMatch`). */
export async function metricSum(port: number, name: string, labelMatch = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labelMatch))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

export async function lastAttestationTime(stack: Stack, node: string): Promise<number> {
  const na = await getJson<{ status?: { lastAttestationTime?: string } }>(stack, ['get', 'nodeattestation', node]);
  return Date.parse(na.status?.lastAttestationTime ?? '') || 0;
}
