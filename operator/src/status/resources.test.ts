import type * as api from '../api/v1alpha1.js';
import { API_VERSION, GROUP, VERSION, type NodeAttestationPolicySpec, type NodeAttestationStatus } from './resources.js';

// Compile-time: the generated CRD types (api/, from crds/*.yaml) and the control plane's narrowed
// shapes stay interchangeable; a schema change that breaks this fails `tsc -p tsconfig.test.json`.
type Assignable<A, B> = [A] extends [B] ? true : false;
const specIn: Assignable<api.NodeAttestationPolicySpec, NodeAttestationPolicySpec> = true;
const statusIn: Assignable<api.NodeAttestationStatus, NodeAttestationStatus> = true;
const statusOut: Assignable<NodeAttestationStatus, api.NodeAttestationStatus> = true;

it('matches the generated API group and version', async () => {
  const generated = await import('../api/v1alpha1.js');
  expect([GROUP, VERSION, API_VERSION]).toEqual([generated.GROUP, generated.VERSION, generated.API_VERSION]);
  expect([specIn, statusIn, statusOut]).toEqual([true, true, true]);
});
