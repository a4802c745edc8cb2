import { Agent } from 'node:https';
import { RequestContext, HttpMethod } from '@kubernetes/client-node';
import { KeepAliveKubeConfig } from './kube-config.js';

const CA = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

function config(user: { name: string; token?: string; certData?: string; keyData?: string }): KeepAliveKubeConfig {
  const kc = new KeepAliveKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: Buffer.from(CA).toString('base64'), skipTLSVerify: false }],
    users: [user],
    contexts: [{ name: 'ctx', cluster: 'c', user: user.name }],
    currentContext: 'ctx',
  });
  return kc;
}

async function agentFor(kc: KeepAliveKubeConfig): Promise<Agent> {
  const ctx = new RequestContext('https://127.0.0.1:6443/api/v1/nodes', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getAgent() as Agent;
}

describe('KeepAliveKubeConfig', () => {
  it('hands every request the same keep-alive agent (client-node alone makes one per request)', async () => {
    const kc = config({ name: 'u', token: 't' });
    const a = await agentFor(kc);
    const b = await agentFor(kc);
    expect(a).toBe(b);
    expect(a.options.keepAlive).toBe(true);
    expect(String(a.options.ca)).toBe(CA);
    kc.closeIdle();
  });

  it('keeps the token header per request and makes a new agent when the TLS material changes', async () => {
    const kc = config({ name: 'u', token: 't' });
    const first = await agentFor(kc);
    const ctx = new RequestContext('https://127.0.0.1:6443/api/v1/nodes', HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    expect(ctx.getHeaders()['Authorization']).toBe('Bearer t');
    kc.clusters[0] = { ...kc.clusters[0]!, caData: Buffer.from(CA.replace('AAAA', 'BBBB')).toString('base64') };
    const second = await agentFor(kc);
    expect(second).not.toBe(first);
    expect(String(second.options.ca)).toContain('BBBB');
    kc.closeIdle();
  });
});
