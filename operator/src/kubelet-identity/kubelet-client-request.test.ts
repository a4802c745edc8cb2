import 'reflect-metadata';
import { parseCsrRequest, type CsrRequest } from './csr.js';
import { checkKubeletClientRequest } from './kubelet-client-request.js';
import { buildCsrRequest } from './testing/csr-builder.js';

const kubeletUsages = ['digital signature', 'key encipherment', 'client auth'];

async function request(subject: string, sans?: NonNullable<Parameters<typeof buildCsrRequest>[0]>['sans']): Promise<CsrRequest> {
  const parsed = await parseCsrRequest((await buildCsrRequest({ subject, ...(sans === undefined ? {} : { sans }) })).pem);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.request;
}

describe('checkKubeletClientRequest', () => {
  it.each([
    ['CN=system:node:node-a, O=system:nodes'],
    ['O=system:nodes, CN=system:node:node-a'],
  ])('accepts a kubelet request with subject %s', async (subject) => {
    expect(checkKubeletClientRequest({ usages: kubeletUsages }, await request(subject))).toEqual({ ok: true, nodeName: 'node-a' });
  });

  it.each([
    ['another CN', 'CN=admin, O=system:nodes', kubeletUsages, 'join.csr_subject'],
    ['system:masters', 'CN=system:node:node-a, O=system:masters', kubeletUsages, 'join.csr_subject'],
    ['an extra organization', 'CN=system:node:node-a, O=system:nodes, O=system:masters', kubeletUsages, 'join.csr_subject'],
    ['an empty node name', 'CN=system:node:, O=system:nodes', kubeletUsages, 'join.csr_subject'],
    ['server auth', 'CN=system:node:node-a, O=system:nodes', ['client auth', 'server auth'], 'join.csr_usages'],
    ['no client auth', 'CN=system:node:node-a, O=system:nodes', ['digital signature'], 'join.csr_usages'],
    ['code signing', 'CN=system:node:node-a, O=system:nodes', ['client auth', 'code signing'], 'join.csr_usages'],
  ])('refuses %s', async (_what, subject, usages, id) => {
    const r = checkKubeletClientRequest({ usages }, await request(subject));
    expect(!r.ok && r.failures.map((f) => f.id)).toEqual([id]);
  });

  it('refuses subject alternative names', async () => {
    const r = checkKubeletClientRequest({ usages: kubeletUsages }, await request('CN=system:node:node-a, O=system:nodes', [{ type: 'dns', value: 'kubernetes' }]));
    expect(!r.ok && r.failures.map((f) => f.id)).toEqual(['join.csr_extra_names']);
  });
});
