import type {
  ActivateRequest, ActivateResponse, CredentialRequest, EventLogResponse, IdentityResponse, ImaLogResponse,
  QuoteRequest, QuoteResponse, RoundRequest, RoundResponse, VerityStatusResponse,
} from '@nodeward/attest';

/**
 * The operator's view of a node's agent API (/v1). `agentUrl` is `https://<node>@<InternalIP>:<port>`;
 * the agent's serving certificate must name that node (a DNS SAN), and the agent must answer for it. Every answer is shape-checked;
 * every failure is an `AgentError`. The contents are still untrusted evidence.
 */
export interface AgentClient {
  identity(agentUrl: string): Promise<IdentityResponse>;
  activate(agentUrl: string, request: ActivateRequest): Promise<ActivateResponse>;
  quote(agentUrl: string, request: QuoteRequest): Promise<QuoteResponse>;
  /**
   * POST /v1/round: the quote, then what `request` asks for, in one exchange (log body cap and
   * timeout). An agent older than the endpoint answers `AgentError('http_status', …, 404)`.
   */
  round(agentUrl: string, request: RoundRequest): Promise<RoundResponse>;
  /** IMA entries from index `from` (0-based). */
  ima(agentUrl: string, from: number): Promise<ImaLogResponse>;
  eventLog(agentUrl: string): Promise<EventLogResponse>;
  verity(agentUrl: string): Promise<VerityStatusResponse>;
  putCredential(agentUrl: string, request: CredentialRequest): Promise<void>;
  deleteCredential(agentUrl: string): Promise<void>;
}
