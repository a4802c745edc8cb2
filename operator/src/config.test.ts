import { loadConfig } from './config.js';

it('has defaults and reads overrides', () => {
  const d = loadConfig({});
  expect([d.agentPort, d.heartbeatMs, d.namespace, d.leaseName]).toEqual([9443, 300_000, 'nodeward-system', 'nodeward-operator']);
  const o = loadConfig({ NODEWARD_AGENT_PORT: '10443', NODEWARD_NAMESPACE: 'x', POD_NAME: 'op-1', KUBECONFIG: '/k' });
  expect([o.agentPort, o.namespace, o.identity, o.kubeconfig]).toEqual([10443, 'x', 'op-1', '/k']);
  expect([d.roundConcurrency, d.reconcileConcurrency]).toEqual([64, 16]);
  const c = loadConfig({ NODEWARD_ROUND_CONCURRENCY: '8', NODEWARD_RECONCILE_CONCURRENCY: '2' });
  expect([c.roundConcurrency, c.reconcileConcurrency]).toEqual([8, 2]);
  expect([d.agentMaxIdleConnections, loadConfig({ NODEWARD_AGENT_MAX_IDLE_CONNECTIONS: '2000' }).agentMaxIdleConnections]).toEqual([1000, 2000]);
  expect([d.leaderAgentMaxIdleConnections, loadConfig({ NODEWARD_LEADER_AGENT_MAX_IDLE_CONNECTIONS: '300' }).leaderAgentMaxIdleConnections]).toEqual([0, 300]);
  expect(() => loadConfig({ NODEWARD_AGENT_MAX_IDLE_CONNECTIONS: '-1' })).toThrow(/NODEWARD_AGENT_MAX_IDLE_CONNECTIONS/);
  expect(() => loadConfig({ NODEWARD_AGENT_PORT: 'abc' })).toThrow(/NODEWARD_AGENT_PORT/);
  expect(() => loadConfig({ NODEWARD_LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
});

describe('revocation webhooks', () => {
  it('reads a comma-separated list and rejects what is not an http(s) URL', () => {
    expect(loadConfig({ NODEWARD_REVOCATION_WEBHOOKS: ' https://siem.example/hook , http://127.0.0.1:9/x ' }).revocationWebhooks)
      .toEqual(['https://siem.example/hook', 'http://127.0.0.1:9/x']);
    expect(loadConfig({}).revocationWebhooks).toEqual([]);
    expect(() => loadConfig({ NODEWARD_REVOCATION_WEBHOOKS: 'ftp://x/y' })).toThrow(/must be http/);
    expect(() => loadConfig({ NODEWARD_REVOCATION_WEBHOOKS: 'not a url' })).toThrow(/is not a URL/);
  });
});

describe('credential lifetime', () => {
  it('refuses a lifetime or renewal margin the heartbeat-paced renewal cannot keep valid', () => {
    // 2 min credentials with the 5 min heartbeat: would sit expired for minutes between renewal checks.
    expect(() => loadConfig({ NODEWARD_CREDENTIAL_TTL_MS: '120000' })).toThrow(/NODEWARD_CREDENTIAL_TTL_MS \(120000\) must be longer than NODEWARD_CREDENTIAL_RENEW_BEFORE_MS \(1200000\).*NODEWARD_HEARTBEAT_MS, 300000/);
    expect(() => loadConfig({ NODEWARD_CREDENTIAL_TTL_MS: '120000', NODEWARD_CREDENTIAL_RENEW_BEFORE_MS: '60000' }))
      .toThrow(/NODEWARD_CREDENTIAL_RENEW_BEFORE_MS \(60000\) must be at least NODEWARD_HEARTBEAT_MS \+ NODEWARD_RESYNC_MS \(360000\)/);
    expect(() => loadConfig({ NODEWARD_CREDENTIAL_RENEW_BEFORE_MS: '300000' })).toThrow(/RENEW_BEFORE_MS/);
    // A short lifetime is fine with a heartbeat and resync it can outlast (the e2e stacks use a 500 ms heartbeat).
    const short = loadConfig({ NODEWARD_CREDENTIAL_TTL_MS: '120000', NODEWARD_CREDENTIAL_RENEW_BEFORE_MS: '60000', NODEWARD_HEARTBEAT_MS: '30000', NODEWARD_RESYNC_MS: '10000' });
    expect([short.credentialTtlMs, short.credentialRenewBeforeMs]).toEqual([120_000, 60_000]);
    expect(() => loadConfig({ NODEWARD_HEARTBEAT_MS: '500' })).not.toThrow();
  });
});

it('refuses a replica TTL that does not exceed the membership heartbeat', () => {
  expect([loadConfig({}).memberHeartbeatMs, loadConfig({}).memberTtlMs]).toEqual([2000, 6000]);
  expect(() => loadConfig({ NODEWARD_MEMBER_HEARTBEAT_MS: '5000', NODEWARD_MEMBER_TTL_MS: '5000' })).toThrow(/NODEWARD_MEMBER_TTL_MS/);
  expect(() => loadConfig({ NODEWARD_MEMBER_HEARTBEAT_MS: '0' })).toThrow(/NODEWARD_MEMBER_HEARTBEAT_MS/);
});
