export * from './bull-round-scheduler.js';
export * from './round-job.js';
export * from './round-worker.js';
export * from './redis-connection.js';
