import { bootstrapTokenSecret, newBootstrapToken } from './bootstrap-token.js';
import { harnessControllers, kubeControllerManagerArgs } from './kube-controller-manager.js';

describe('newBootstrapToken', () => {
  it('makes <6>.<16> lowercase alphanumeric tokens expiring after the TTL', () => {
    const now = new Date('2026-01-01T00:00:00.000Z');
    const token = newBootstrapToken({ ttlMs: 60_000 }, now);
    expect(token.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(token.token).toBe(`${token.id}.${token.secret}`);
    expect(token.expiration.toISOString()).toBe('2026-01-01T00:01:00.000Z');
    expect(token.extraGroups).toEqual(['system:bootstrappers:nodeward']);
  });

  it('refuses an extra group outside system:bootstrappers:', () => {
    expect(() => newBootstrapToken({ extraGroups: ['system:masters'] })).toThrow(/must start with 'system:bootstrappers:'/);
  });
});

describe('bootstrapTokenSecret', () => {
  it('is the kube-system Secret the bootstrap token authenticator reads', () => {
    const token = newBootstrapToken({ extraGroups: ['system:bootstrappers:pool-a'] }, new Date('2026-01-01T00:00:00.500Z'));
    const secret = bootstrapTokenSecret(token);
    expect(secret.metadata).toEqual({ name: `bootstrap-token-${token.id}`, namespace: 'kube-system' });
    expect(secret.type).toBe('bootstrap.kubernetes.io/token');
    expect(secret.stringData).toMatchObject({
      'token-id': token.id,
      'token-secret': token.secret,
      expiration: '2026-01-01T01:00:00Z',
      'usage-bootstrap-authentication': 'true',
      'auth-extra-groups': 'system:bootstrappers:pool-a',
    });
  });
});

describe('kubeControllerManagerArgs', () => {
  it('signs with the given CA and never runs the CSR approver', () => {
    const args = kubeControllerManagerArgs({
      dir: '/t', kubeconfigPath: '/t/kcm.kubeconfig', signer: { certFile: '/t/ca.crt', keyFile: '/t/ca.key' }, securePort: 1234,
    });
    expect(args).toEqual(expect.arrayContaining(['--cluster-signing-cert-file=/t/ca.crt', '--cluster-signing-key-file=/t/ca.key']));
    expect(args).toContain(`--controllers=${harnessControllers.join(',')}`);
    expect(harnessControllers).not.toContain('csrapproving');
    expect(harnessControllers).toContain('csrsigning');
  });
});
