// @peculiar/x509 (through @nodeward/attest) needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { createLogger, startAgent, type AgentConfig } from '@nodeward/agent';

/**
 * The agent under test for agent-memory.ts, in its own process so its RSS is the agent's alone:
 * receives an AgentConfig (without logger) over IPC, replies with its URL, stops on the next message.
 */
process.once('message', (config: Omit<AgentConfig, 'logger'>) => {
  startAgent({ ...config, logger: createLogger({ level: 'warn', base: { component: 'agent' } }) }).then((agent) => {
    process.send!({ url: agent.url });
    process.once('message', () => { agent.close().then(() => process.exit(0), () => process.exit(1)); });
  }, (e: unknown) => {
    process.stderr.write(`agent failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
});
