import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The repository root, resolved from this module's location: e2e/src/harness (Jest, ts sources) and
 * e2e/dist/harness (compiled) are both three levels below it.
 */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}
