export * from './boot-pcrs.js';
export * from './round-types.js';
export * from './verify-round.js';
export * from './evidence-bounds.js';
