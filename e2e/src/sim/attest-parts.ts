// The attest/ writers the simulated node uses. The IMA writer is not yet re-exported from the
// package root, so it is imported by its module path (switch to '@nodeward/attest' once it is).
export { encodeImaNgEntry, type EncodedImaEntry } from '@nodeward/attest/testing';
