export * from './boot-pcrs.js';
export * from './round-metrics.js';
export * from './run-round.js';
export * from './verify-round.js';
