import { AgentError } from '../agent-client/agent-error.js';

/** How long an agent that lacks POST /v1/round is asked the old way before it is probed again. */
export const ROUND_REPROBE_MS = 5 * 60_000;

/**
 * Which agents serve POST /v1/round. During a rolling upgrade (a new operator, old agents) an agent
 * answers 404: its URL is remembered for `reprobeMs`, and its rounds meanwhile use the per-endpoint
 * requests. An entry is dropped when it is probed again, so the map holds only old agents.
 */
export class RoundEndpointSupport {
  private readonly reprobeAt = new Map<string, number>();

  constructor(private readonly reprobeMs = ROUND_REPROBE_MS) {}

  /** True unless `agentUrl` answered 404 less than `reprobeMs` before `nowMs`. */
  supports(agentUrl: string, nowMs: number): boolean {
    const at = this.reprobeAt.get(agentUrl);
    if (at === undefined) return true;
    if (nowMs < at) return false;
    this.reprobeAt.delete(agentUrl);
    return true;
  }

  markUnsupported(agentUrl: string, nowMs: number): void {
    this.reprobeAt.set(agentUrl, nowMs + this.reprobeMs);
  }
}

/** The agent has no such path (an agent from before POST /v1/round). */
export function isMissingEndpoint(e: unknown): boolean {
  return e instanceof AgentError && e.code === 'http_status' && e.status === 404;
}
