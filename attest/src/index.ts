export * from './binary/parse-error.js';
export * from './binary/reader.js';
export * from './failure.js';
export * from './hash-alg.js';
export * from './wire.js';
