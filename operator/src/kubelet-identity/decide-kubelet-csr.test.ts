import 'reflect-metadata';
import { parseCsrRequest, type CsrRequestResult } from './csr.js';
import { decideClientRenewal, decideServing, type KubeletCsrContext, type ServingContext } from './decide-kubelet-csr.js';
import { buildCsrRequest } from './testing/csr-builder.js';

const NOW = new Date('2026-12-06T03:00:00Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const trusted: KubeletCsrContext = {
  attestation: { phase: 'Trusted', lastSuccessTime: ago(5) }, freshnessWindowMs: 60_000, maxExpirationSeconds: 3600, signerDurationSeconds: 3600, now: NOW,
};
const addresses = [{ type: 'InternalIP', address: '10.0.0.7' }, { type: 'Hostname', address: 'node-a' }, { type: 'InternalDNS', address: 'node-a.cluster.internal' }];
const serving: ServingContext = { ...trusted, nodeAddresses: addresses };
const clientUsages = ['digital signature', 'client auth'];
const servingUsages = ['digital signature', 'key encipherment', 'server auth'];

let own: CsrRequestResult;
let other: CsrRequestResult;
let withSan: CsrRequestResult;
let extraOrg: CsrRequestResult;
const servingReq = new Map<string, CsrRequestResult>();
beforeAll(async () => {
  own = await parseCsrRequest((await buildCsrRequest()).pem);
  other = await parseCsrRequest((await buildCsrRequest({ subject: 'CN=system:node:control-plane-1, O=system:nodes' })).pem);
  withSan = await parseCsrRequest((await buildCsrRequest({ sans: [{ type: 'dns', value: 'node-a' }] })).pem);
  extraOrg = await parseCsrRequest((await buildCsrRequest({ subject: 'CN=system:node:node-a, O=system:nodes, O=system:masters' })).pem);
  const sans = {
    ok: [{ type: 'dns', value: 'node-a' }, { type: 'ip', value: '10.0.0.7' }],
    dnsOnly: [{ type: 'dns', value: 'node-a.cluster.internal' }],
    strayIp: [{ type: 'dns', value: 'node-a' }, { type: 'ip', value: '10.0.0.8' }],
    strayDns: [{ type: 'dns', value: 'kubernetes.default.svc' }],
    email: [{ type: 'dns', value: 'node-a' }, { type: 'email', value: 'a@b.c' }],
  } as const;
  for (const [k, v] of Object.entries(sans)) servingReq.set(k, await parseCsrRequest((await buildCsrRequest({ sans: [...v] })).pem));
  servingReq.set('none', own);
  servingReq.set('otherNode', await parseCsrRequest((await buildCsrRequest({ subject: 'CN=system:node:node-b, O=system:nodes', sans: [{ type: 'dns', value: 'node-a' }] })).pem));
});

describe('decideClientRenewal', () => {
  type Row = [string, () => CsrRequestResult, { usages?: string[]; expirationSeconds?: number; ctx?: Partial<KubeletCsrContext> }, string, RegExp[]];
  const rows: Row[] = [
    ['own name, Trusted, fresh: approved', () => own, { expirationSeconds: 3600 }, 'Approve:NodewardNodeTrusted', [/node-a is Trusted/, /at most 3600 s/]],
    ['shorter lifetime than the policy: approved', () => own, { expirationSeconds: 900 }, 'Approve:NodewardNodeTrusted', [/at most 900 s/]],
    ['no lifetime asked, signer at the policy\'s: approved', () => own, {}, 'Approve:NodewardNodeTrusted', [/at most 3600 s/]],
    ['key encipherment too (RSA kubelets): approved', () => own, { usages: ['digital signature', 'key encipherment', 'client auth'], expirationSeconds: 3600 }, 'Approve:NodewardNodeTrusted', []],
    ['another node\'s name (a control-plane node): denied', () => other, { expirationSeconds: 3600 }, 'Deny:NodewardOtherNode', [/kubelet\.csr_other_node: system:node:node-a asks for a certificate naming system:node:control-plane-1/]],
    ['SANs on a client certificate: denied', () => withSan, { expirationSeconds: 3600 }, 'Deny:NodewardRequestMalformed', [/join\.csr_extra_names/]],
    ['an extra organization (system:masters): denied', () => extraOrg, { expirationSeconds: 3600 }, 'Deny:NodewardRequestMalformed', [/join\.csr_subject/]],
    ['server auth on a client certificate: denied', () => own, { usages: ['digital signature', 'client auth', 'server auth'], expirationSeconds: 3600 }, 'Deny:NodewardRequestMalformed', [/join\.csr_usages/]],
    ['no client auth: denied', () => own, { usages: ['digital signature'], expirationSeconds: 3600 }, 'Deny:NodewardRequestMalformed', [/join\.csr_usages/]],
    ['garbage request: denied', () => ({ ok: false, reason: 'not PEM' }), { expirationSeconds: 3600 }, 'Deny:NodewardRequestMalformed', [/join\.csr_malformed: not PEM/]],
    ['lifetime over the policy\'s: denied', () => own, { expirationSeconds: 7200 }, 'Deny:NodewardLifetimeTooLong', [/expirationSeconds 7200, over the policy's kubeletCertificates.expirationSeconds 3600/]],
    ['no lifetime asked and the signer\'s year: denied', () => own, { ctx: { signerDurationSeconds: 31_536_000 } }, 'Deny:NodewardLifetimeTooLong', [/no expirationSeconds, so the signer's 31536000 s applies/]],
    ['a long ask a short signer would cap: denied all the same', () => own, { expirationSeconds: 86_400, ctx: { signerDurationSeconds: 600 } }, 'Deny:NodewardLifetimeTooLong', []],
    ['a short signer caps the lifetime it announces', () => own, { expirationSeconds: 3600, ctx: { signerDurationSeconds: 600 } }, 'Approve:NodewardNodeTrusted', [/at most 600 s/]],
    ['Untrusted: denied with its failure', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Untrusted', lastSuccessTime: ago(5), lastFailure: { reason: 'ima.path_not_in_policy' } } } }, 'Deny:NodewardNotTrusted', [/node node-a is Untrusted \(last failure ima\.path_not_in_policy\)/]],
    ['Unreachable: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Unreachable', lastSuccessTime: ago(5) } } }, 'Deny:NodewardNotTrusted', [/is Unreachable/]],
    ['Stale: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Stale', lastSuccessTime: ago(600) } } }, 'Deny:NodewardNotTrusted', [/is Stale/]],
    ['Conflict: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Conflict' } } }, 'Deny:NodewardNotTrusted', [/is Conflict/]],
    ['pending (no phase yet): denied', () => own, { expirationSeconds: 3600, ctx: { attestation: {} } }, 'Deny:NodewardNotTrusted', [/is Pending/]],
    ['Registered, never attested: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Registered' } } }, 'Deny:NodewardNotTrusted', [/is Registered/]],
    ['no NodeAttestation: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: undefined } }, 'Deny:NodewardNotAttested', [/no policy attests it/]],
    ['Trusted, last pass outside the window: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Trusted', lastSuccessTime: ago(61) } } }, 'Deny:NodewardAttestationStale', [/older than the freshness window of 60 s/]],
    ['Trusted, last pass exactly at the window: approved', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Trusted', lastSuccessTime: ago(60) } } }, 'Approve:NodewardNodeTrusted', []],
    ['Trusted without lastSuccessTime: denied', () => own, { expirationSeconds: 3600, ctx: { attestation: { phase: 'Trusted' } } }, 'Deny:NodewardAttestationStale', [/\(none\)/]],
    ['every reason at once, impersonation first', () => other, { expirationSeconds: 7200, ctx: { attestation: { phase: 'Untrusted' } } }, 'Deny:NodewardOtherNode', [/csr_other_node.*csr_lifetime_too_long.*node_not_trusted/]],
  ];
  it.each(rows)('%s', (_n, request, { ctx, ...csr }, want, messages) => {
    const d = decideClientRenewal({ usages: clientUsages, ...csr }, request(), 'node-a', { ...trusted, ...ctx });
    expect(d.verdict === 'Ignore' || d.verdict === 'Wait' ? d.verdict : `${d.verdict}:${d.reason}`).toBe(want);
    for (const m of messages) expect(d.verdict !== 'Ignore' && d.message).toMatch(m);
    if (d.verdict === 'Deny') expect(d.message).toMatch(/^Nodeward: /);
  });
});

describe('decideServing', () => {
  type Row = [string, string, { usages?: string[]; expirationSeconds?: number; ctx?: Partial<ServingContext> }, string, RegExp[]];
  const rows: Row[] = [
    ['hostname and InternalIP of its Node: approved', 'ok', {}, 'Approve:NodewardNodeTrusted', []],
    ['InternalDNS only: approved', 'dnsOnly', {}, 'Approve:NodewardNodeTrusted', []],
    ['an IP the Node does not report: denied', 'strayIp', {}, 'Deny:NodewardServingNameNotNodeAddress', [/IP:10\.0\.0\.8 not among the Node's addresses \(InternalIP=10\.0\.0\.7/]],
    ['the API server\'s name: denied', 'strayDns', {}, 'Deny:NodewardServingNameNotNodeAddress', [/DNS:kubernetes\.default\.svc/]],
    ['an email SAN: denied', 'email', {}, 'Deny:NodewardServingNameNotNodeAddress', [/email:a@b\.c/]],
    ['no names at all: denied', 'none', {}, 'Deny:NodewardServingNoNames', []],
    ['another node\'s subject: denied', 'otherNode', {}, 'Deny:NodewardOtherNode', [/got CN=system:node:node-b/]],
    ['client auth usages: denied', 'ok', { usages: ['digital signature', 'client auth'] }, 'Deny:NodewardServingUsages', []],
    ['Untrusted: denied', 'ok', { ctx: { attestation: { phase: 'Untrusted' } } }, 'Deny:NodewardNotTrusted', []],
    ['a Node with no addresses: denied', 'ok', { ctx: { nodeAddresses: [] } }, 'Deny:NodewardServingNameNotNodeAddress', [/\(none\)/]],
    ['lifetime over the policy\'s: denied', 'ok', { expirationSeconds: 86_400, ctx: { signerDurationSeconds: 31_536_000 } }, 'Deny:NodewardLifetimeTooLong', []],
  ];
  it.each(rows)('%s', (_n, req, { ctx, ...csr }, want, messages) => {
    const d = decideServing({ usages: servingUsages, expirationSeconds: 3600, ...csr }, servingReq.get(req)!, 'node-a', { ...serving, ...ctx });
    expect(d.verdict === 'Ignore' || d.verdict === 'Wait' ? d.verdict : `${d.verdict}:${d.reason}`).toBe(want);
    for (const m of messages) expect(d.verdict !== 'Ignore' && d.message).toMatch(m);
  });
});
