export * from './parse-round-state.js';
export * from './redis-node-state-store.js';
export * from './redis-client.js';
export * from './redis-config.js';
