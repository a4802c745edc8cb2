import { readFileSync } from 'node:fs';
import { HttpsAgentClient } from './https-agent-client.js';

/** The operator's mTLS client of the agents, from its certificate, key and the agents' CA (PEM files). */
export function agentClientFromFiles(tls: { certFile?: string; keyFile?: string; caFile?: string }, maxIdleConnections: number): HttpsAgentClient {
  const { certFile, keyFile, caFile } = tls;
  if (certFile === undefined || keyFile === undefined || caFile === undefined) {
    throw new Error('NODEWARD_AGENT_CLIENT_CERT, NODEWARD_AGENT_CLIENT_KEY and NODEWARD_AGENT_CA are required (agent mTLS)');
  }
  return new HttpsAgentClient({ cert: readFileSync(certFile), key: readFileSync(keyFile), ca: readFileSync(caFile), maxIdleConnections });
}
