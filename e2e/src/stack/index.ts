export * from './operator-process.js';
export * from './policy.js';
export * from './stack.js';
export * from './install.js';
