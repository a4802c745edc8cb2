import { decideCsr, routeCsr, type CsrDecision, type CsrHandlers } from './csr-router.js';
import { KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER } from './csr.js';
import { csrView } from './testing/csr-builder.js';

const bootstrap = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
const node = { username: 'system:node:node-a', groups: ['system:nodes', 'system:authenticated'] };
const admin = { username: 'alice', groups: ['system:masters'] };
const serviceAccount = { username: 'system:serviceaccount:default:x', groups: ['system:serviceaccounts'] };

describe('routeCsr', () => {
  it.each([
    ['bootstrap token, client signer', KUBELET_CLIENT_SIGNER, bootstrap, { kind: 'BootstrapJoin', tokenId: 'abcdef' }],
    ['node, client signer', KUBELET_CLIENT_SIGNER, node, { kind: 'NodeClientRenewal', requesterNode: 'node-a' }],
    ['node, serving signer', KUBELET_SERVING_SIGNER, node, { kind: 'KubeletServing', requesterNode: 'node-a' }],
    ['bootstrap token, serving signer', KUBELET_SERVING_SIGNER, bootstrap, { kind: 'ForeignRequester' }],
    ['admin, client signer', KUBELET_CLIENT_SIGNER, admin, { kind: 'ForeignRequester' }],
    ['service account, client signer', KUBELET_CLIENT_SIGNER, serviceAccount, { kind: 'ForeignRequester' }],
    ['node name without the nodes group', KUBELET_CLIENT_SIGNER, { username: 'system:node:x', groups: [] }, { kind: 'ForeignRequester' }],
    ['bootstrap name without the bootstrappers group', KUBELET_CLIENT_SIGNER, { username: 'system:bootstrap:x', groups: [] }, { kind: 'ForeignRequester' }],
    ['bootstrap token, another signer', 'kubernetes.io/kube-apiserver-client', bootstrap, { kind: 'NotOurs' }],
    ['admin, another signer', 'kubernetes.io/kube-apiserver-client', admin, { kind: 'NotOurs' }],
    ['bootstrap token, a custom signer', 'example.com/x', bootstrap, { kind: 'NotOurs' }],
    ['a custom signer', 'example.com/anything', node, { kind: 'NotOurs' }],
  ])('%s', (_what, signerName, requester, route) => {
    expect(routeCsr({ signerName, ...requester, state: 'Pending' })).toEqual(route);
  });

  it.each(['Approved', 'Denied', 'Failed', 'Issued'] as const)('leaves a %s CSR alone', (state) => {
    expect(routeCsr({ signerName: KUBELET_CLIENT_SIGNER, ...bootstrap, state })).toEqual({ kind: 'NotOurs' });
  });
});

describe('decideCsr', () => {
  const answer = (reason: string): CsrDecision => ({ verdict: 'Approve', reason, message: reason });
  const handlers: CsrHandlers = {
    bootstrapJoin: () => Promise.resolve(answer('join')),
    nodeClientRenewal: () => Promise.resolve(answer('renewal')),
    kubeletServing: () => Promise.resolve(answer('serving')),
  };

  it('dispatches each route to its handler', async () => {
    expect(await decideCsr(csrView(bootstrap), handlers)).toEqual(answer('join'));
    expect(await decideCsr(csrView(node), handlers)).toEqual(answer('renewal'));
    expect(await decideCsr(csrView({ ...node, signerName: KUBELET_SERVING_SIGNER }), handlers)).toEqual(answer('serving'));
    expect(await decideCsr(csrView({ signerName: 'example.com/x' }), handlers)).toEqual({ verdict: 'Ignore' });
  });

  it('denies a kubelet CSR from a requester that is neither a bootstrap token nor a node, naming Nodeward', async () => {
    const decision = await decideCsr(csrView(serviceAccount), handlers);
    expect(decision).toMatchObject({ verdict: 'Deny', reason: 'NodewardForeignRequester' });
    expect(decision.verdict === 'Deny' && decision.message).toMatch(/^Nodeward: .*system:serviceaccount:default:x/);
  });
});
