export * from './swtpm.js';
export * from './free-port.js';
export * from './pki.js';
export * from './sim-node.js';
export { runCommand } from './run-command.js';
export * from './soft-tpm.js';
export * from './evmctl.js';
