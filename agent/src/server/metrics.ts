/** The agent's Prometheus metrics, written in the text exposition format (version 0.0.4) by hand. */

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string>): string =>
  `{${Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;

export class AgentMetrics {
  private readonly requests = new Map<string, { path: string; code: string; n: number }>();
  private readonly tpmErrors = new Map<string, number>();
  private readonly bucketCounts = LATENCY_BUCKETS.map(() => 0);
  private latencySum = 0;
  private latencyCount = 0;

  request(path: string, code: number): void {
    const key = `${path} ${code}`;
    const e = this.requests.get(key) ?? { path, code: String(code), n: 0 };
    e.n++;
    this.requests.set(key, e);
  }

  tpmError(op: string): void {
    this.tpmErrors.set(op, (this.tpmErrors.get(op) ?? 0) + 1);
  }

  quoteLatency(seconds: number): void {
    this.latencySum += seconds;
    this.latencyCount++;
    LATENCY_BUCKETS.forEach((le, i) => { if (seconds <= le) this.bucketCounts[i]!++; });
  }

  render(): string {
    const out = [
      '# HELP nodeward_agent_requests_total HTTP requests by route and status code.',
      '# TYPE nodeward_agent_requests_total counter',
      ...[...this.requests.values()].map((r) => `nodeward_agent_requests_total${labels({ path: r.path, code: r.code })} ${r.n}`),
      '# HELP nodeward_agent_quote_duration_seconds Time to produce a TPM quote.',
      '# TYPE nodeward_agent_quote_duration_seconds histogram',
      ...LATENCY_BUCKETS.map((le, i) => `nodeward_agent_quote_duration_seconds_bucket${labels({ le: String(le) })} ${this.bucketCounts[i]}`),
      `nodeward_agent_quote_duration_seconds_bucket${labels({ le: '+Inf' })} ${this.latencyCount}`,
      `nodeward_agent_quote_duration_seconds_sum ${this.latencySum}`,
      `nodeward_agent_quote_duration_seconds_count ${this.latencyCount}`,
      '# HELP nodeward_agent_tpm_errors_total TPM or tpm2-tools failures by operation.',
      '# TYPE nodeward_agent_tpm_errors_total counter',
      ...[...this.tpmErrors.entries()].map(([op, n]) => `nodeward_agent_tpm_errors_total${labels({ op })} ${n}`),
    ];
    return out.join('\n') + '\n';
  }
}
