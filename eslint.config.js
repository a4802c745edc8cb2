// Type-aware lint plus the architecture's import boundaries (../shared/STYLE.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeIo = ['node:fs', 'node:fs/promises', 'fs', 'fs/promises', 'node:net', 'net', 'node:child_process',
  'child_process', 'node:http', 'node:https', 'http', 'https', 'node:dgram', 'node:tls', 'tls'];
const kube = ['@kubernetes/client-node', 'kubernetes-fluent-client'];
const redis = ['bullmq', 'ioredis'];
const restrict = (names, message) => ({ paths: names.map((name) => ({ name, message })) });

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', '**/*.js', 'e2e/testenv/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      complexity: ['warn', 12],
      'max-depth': ['error', 4],
      'max-params': ['error', 5],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/explicit-module-boundary-types': 'off', complexity: 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // The verification library is pure: bytes and policies in, verdicts out.
    files: ['attest/src/**/*.ts'],
    ignores: ['attest/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { ...restrict([...nodeIo, ...kube, ...redis], 'attest/ does no I/O'),
      patterns: [{ group: ['@nodeward/*', '../../*'], message: 'attest/ depends on nothing of ours' }] }] },
  },
  {
    files: ['agent/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...restrict([...kube, ...redis], 'the agent talks to no cluster and no queue'),
      patterns: [{ group: ['@nodeward/operator', '@nodeward/operator/*'], message: 'agent/ never imports operator/' }] }] },
  },
  {
    // Only the kube/ adapter talks to Kubernetes; only queue/ and state/ talk to Redis.
    files: ['operator/src/**/*.ts'],
    ignores: ['operator/src/kube/**', 'operator/src/queue/**', 'operator/src/state/**', 'operator/src/main.ts', 'operator/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { ...restrict([...kube, ...redis], 'use the kube/, queue/ or state/ adapter') }] },
  },
  {
    files: ['operator/src/kube/**/*.ts'],
    ignores: ['operator/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', restrict(redis, 'kube/ is the Kubernetes adapter only')] },
  },
);
