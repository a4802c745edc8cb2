#!/usr/bin/env node
// @peculiar/x509 (through @nodeward/attest) needs the Reflect polyfill first (STYLE.md).
import 'reflect-metadata';
import { startAgent } from './agent.js';
import { loadAgentConfig, parseAgentArgs } from './config.js';
import { createLogger } from './log.js';

/** `node agent/dist/main.js --listen 127.0.1.2:9443 --tcti swtpm:host=…,port=… --host-root DIR …` */
async function main(): Promise<void> {
  const { logLevel, ...config } = await loadAgentConfig(parseAgentArgs(process.argv.slice(2), process.env));
  const logger = createLogger({ level: logLevel, base: { component: 'agent' } });
  const agent = await startAgent({ ...config, logger });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    agent.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'agent failed to start', error: e instanceof Error ? e.message : String(e) }) + '\n');
  process.exit(1);
});
