export * from './dmsetup.js';
export * from './verify-verity.js';
export * from './verity-cmdline.js';
export * from './verity-failure.js';
