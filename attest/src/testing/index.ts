/**
 * `@nodeward/attest/testing`: builders and fixtures for tests and simulators, outside the library's
 * own exports (go-attestation's testdata/, controller-runtime's client/fake). Production code never
 * imports this entry point.
 */

/**
 * Brands a value as verified without verifying it: for tests whose inputs come from a source they
 * trust (a simulator's own PCRs, a fixture's expected values).
 */
export { verified as assumeVerified } from '../verified.js';
export * from './encode-event-log.js';
export * from './event-builders.js';
export * from './encode-ima-entry.js';
export * from './evmctl-fixture.js';
export * from './seeded-random.js';
