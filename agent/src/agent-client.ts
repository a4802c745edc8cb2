import { Agent, request } from 'node:https';

/** A minimal mTLS client of the agent API, for tests, the memory check and the demo. Not the operator's client. */
export interface ClientTls {
  /** Trust anchor for the agent's serving certificate. */
  caPem: string;
  /** Client certificate and key; omit to connect without one. */
  certPem?: string;
  keyPem?: string;
}

export interface AgentReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: unknown;
}

export function agentHttpsAgent(tls: ClientTls, keepAlive = true): Agent {
  return new Agent({ ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, keepAlive, maxSockets: 4 });
}

export function agentRequest(
  url: string,
  opts: { method?: string; path: string; body?: unknown; rawBody?: Buffer | string; agent: Agent; node?: string },
): Promise<AgentReply> {
  const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(new URL(opts.path, url), {
      method: opts.method ?? 'GET',
      agent: opts.agent,
      headers: {
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        // The node the caller expects the agent to serve, as the operator sends it.
        ...(opts.node === undefined ? {} : { 'nodeward-node': opts.node }),
      },
      timeout: 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try { json = JSON.parse(body.toString('utf8')) as unknown; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
