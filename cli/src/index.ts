// The cli package's API for other packages (tests that drive the CLI in-process).
export { processIo, type CliIo } from './cli-io.js';
export { runCli } from './run-cli.js';
