import { EnforcementBudget, type NodeAttestation, type NodeAttestationPolicy } from '@nodeward/operator';

/**
 * What one maxUnavailable admission costs the leader: it is asked only when enforcement would begin on
 * a node of a policy with a budget (every round of a held node), and counts that policy's enforced
 * nodes in the NodeAttestation cache. `node bench/dist/budget-admission.js [nodes]`.
 */
function main(total: number): void {
  const nas: NodeAttestation[] = [];
  for (let i = 0; i < total; i++) {
    const failing = i % 100 === 0;
    nas.push({ metadata: { name: `n${i}` }, spec: { nodeName: `n${i}`, policyName: i < total / 2 ? 'p' : 'q' }, status: { phase: failing ? 'Untrusted' : 'Trusted', enforcement: failing ? { tainted: true, since: '2026-01-01T00:00:00Z', step: 0 } : {} } });
  }
  const policy: NodeAttestationPolicy = { metadata: { name: 'p' }, spec: { nodeSelector: {}, tpm: { pcrs: [0] }, mode: 'Enforce', maxUnavailable: '1%' } };
  const budget = new EnforcementBudget(() => nas);
  for (let i = 0; i < 200; i++) budget.admit(policy, `n${i}`); // warm-up
  const n = 2000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) budget.admit(policy, `n${i % (total / 2)}`);
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`maxUnavailable admission over ${total} NodeAttestations (${total / 2} under the policy, ${total / 200} enforced): ${us.toFixed(1)} µs each`);
}

main(Number(process.argv[2] ?? 10_000));
