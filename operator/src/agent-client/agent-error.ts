/** Why a call to a node's agent failed. Match on `code`, never on the message. */
export type AgentErrorCode = 'bad_response' | 'too_large' | 'unreachable' | 'timeout' | 'http_status' | 'wrong_node';

/**
 * A failed call to an agent: it could not be reached (including a TLS failure: wrong CA or a
 * certificate for another address), did not answer in time, answered with a non-2xx status
 * (`status`, and the agent's own `agentCode` when it sent an ErrorResponse), answered with more
 * bytes than the call's cap (`too_large`: the rest is not read), or answered with something that is
 * not the expected DTO; or it does not serve the node the URL names (`wrong_node`: its serving
 * certificate names another node, or it answered 421 because it is configured as another).
 */
export class AgentError extends Error {
  override readonly name = 'AgentError';

  constructor(
    readonly code: AgentErrorCode,
    message: string,
    readonly status?: number,
    readonly agentCode?: string,
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function isAgentError(e: unknown): e is AgentError {
  return e instanceof AgentError;
}
