export * from './bull-round-scheduler.js';
export * from './round-job.js';
export * from './round-worker.js';
