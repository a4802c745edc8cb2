import { AgentMetrics } from './metrics.js';

describe('Prometheus exposition', () => {
  it('writes counters and a cumulative histogram', () => {
    const m = new AgentMetrics();
    m.request('/v1/quote', 200);
    m.request('/v1/quote', 200);
    m.request('other', 404);
    m.quoteLatency(0.03);
    m.quoteLatency(0.3);
    m.tpmError('/v1/"x"');
    const t = m.render();
    expect(t).toContain('nodeward_agent_requests_total{path="/v1/quote",code="200"} 2\n');
    expect(t).toContain('nodeward_agent_quote_duration_seconds_bucket{le="0.025"} 0\n');
    expect(t).toContain('nodeward_agent_quote_duration_seconds_bucket{le="0.05"} 1\n');
    expect(t).toContain('nodeward_agent_quote_duration_seconds_bucket{le="+Inf"} 2\n');
    expect(t).toContain('nodeward_agent_quote_duration_seconds_count 2\n');
    expect(t).toContain('nodeward_agent_tpm_errors_total{op="/v1/\\"x\\""} 1\n');
  });
});
