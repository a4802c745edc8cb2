import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/repo-root.js';
import { OPERATOR_NODE_OPTIONS } from './operator-process.js';

it('the tests run the operator with the heap flags the shipped Deployment sets', () => {
  const manifest = readFileSync(join(repoRoot(), 'config/manager/deployment.yaml'), 'utf8');
  const set = /name: NODE_OPTIONS, value: "([^"]*)"/.exec(manifest)?.[1];
  expect(set).toBe(OPERATOR_NODE_OPTIONS);
});
