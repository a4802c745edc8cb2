export * from './bull-round-scheduler.js';
export * from './round-job.js';
export * from './round-worker.js';
export * from './shard-owner.js';
export * from './shard-ownership.js';
