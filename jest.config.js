// Jest runs the TypeScript sources as native ESM (client-node 1.x is ESM-only):
// ts-jest's ESM mode under node --experimental-vm-modules (see package.json "test").
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/attest/src', '<rootDir>/cli/src', '<rootDir>/agent/src', '<rootDir>/operator/src', '<rootDir>/e2e/src', '<rootDir>/bench/src'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/jest.setup.ts'],
  moduleNameMapper: {
    '^@nodeward/([a-z0-9-]+)$': '<rootDir>/$1/src/index.ts',
    // A subpath entry point (package.json "exports", e.g. @nodeward/attest/testing) is a folder with an index.
    '^@nodeward/([a-z0-9-]+)/([a-z0-9-]+)$': '<rootDir>/$1/src/$2/index.ts',
    '^@nodeward/([a-z0-9-]+)/(.*)\\.js$': '<rootDir>/$1/src/$2.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  testTimeout: 120000,
  maxWorkers: 2,
};
