export * from './agent-client.js';
export * from './agent-error.js';
export * from './https-agent-client.js';
export * from './parse-agent-response.js';
export * from './agent-client-from-files.js';
