import { join } from 'node:path';
import { AgentTpm, joinCluster, silentLogger } from '@nodeward/agent';
import { prepareSimNode, type SimNode } from '@nodeward/e2e/sim/index';
import { attestationPolicy, startStack } from '@nodeward/e2e/stack/index';
import { machine, median, met, quantile, secs, table } from './stats.js';

const EVENT_LOG = 'sys/kernel/security/tpm0/binary_bios_measurements';
const LABELS = { 'nodeward.io/attest': 'true' };
/** Issue 19's target, and the published Keylime-based design's join time. */
const TARGET_MEDIAN_MS = 2000;
const KEYLIME_DESIGN_MS = 20_910;

/**
 * Agent start → kubelet certificate on disk, for `runs` new swtpm machines joining one after the other
 * through the real stack (kube-apiserver with bootstrap tokens, kube-controller-manager signing, the
 * operator process): AgentTpm.open (EK, AK) + NodeJoinRequest + challenge + activation + quote + CSR +
 * approval + signing + files. Each machine's swtpm is manufactured and booted before its clock starts.
 */
export async function joinBench(o: { runs: number }, progress: (s: string) => void): Promise<string> {
  const stack = await startStack({ kubeControllerManager: true });
  const sims: SimNode[] = [];
  try {
    await stack.startOperator();
    const policy = attestationPolicy({ name: 'fleet', selector: LABELS, verityRootHash: stack.verityRootHash });
    await stack.apply([{ ...policy, spec: { ...policy.spec, join: { nodeNames: ['worker-*'] } } }]);
    const token = await stack.harness.bootstrapIdentity();
    const totals: number[] = [];
    const phases: Record<'open' | 'challenge' | 'proof' | 'certificate', number[]> = { open: [], challenge: [], proof: [], certificate: [] };
    for (let i = 0; i < o.runs; i++) {
      const sim = await prepareSimNode({ name: `worker-${i}`, ip: stack.harness.addresses.next(), baseDir: join(stack.dir, 'joiners'), ca: stack.swtpmCa });
      sims.push(sim);
      const t0 = Date.now();
      const tpm = await AgentTpm.open({ tcti: sim.tcti, akType: 'rsa', akHandle: 0x81010002, ekHandle: 0x81010001, scratchParent: sim.dir });
      const opened = Date.now() - t0;
      try {
        const r = await joinCluster({
          api: { server: stack.harness.server, caPem: stack.harness.pki.ca.certPem, token: token.token.token },
          nodeName: `worker-${i}`, tpm, kubeconfigPath: join(sim.dir, 'kubelet/kubeconfig'), certDir: join(sim.dir, 'kubelet/pki'),
          eventLogPath: join(sim.hostRoot, EVENT_LOG), pollMs: 20, log: silentLogger,
        });
        totals.push(Date.now() - t0);
        phases.open.push(opened);
        phases.challenge.push(r.timings.challenge);
        phases.proof.push(r.timings.proof);
        phases.certificate.push(r.timings.certificate);
        progress(`join ${i + 1}/${o.runs}: ${Date.now() - t0} ms`);
      } finally {
        await tpm.close();
      }
    }
    const row = (name: string, xs: number[]): string[] => [name, secs(median(xs)), secs(quantile(xs, 0.95)), secs(Math.max(...xs))];
    return [
      `Machine: ${machine()}. ${o.runs} sequential joins, policy with measured boot (event log in the proof), RSA AK, swtpm.`,
      '',
      table(['phase', 'median', 'p95', 'max'], [
        row('agent start → kubelet certificate', totals),
        row('  open TPM (EK, AK)', phases.open),
        row('  NodeJoinRequest → challenge', phases.challenge),
        row('  activate, key, quote, CSR', phases.proof),
        row('  CSR → approved, signed, written', phases.certificate),
      ]),
      '',
      `Target median ≤ ${secs(TARGET_MEDIAN_MS)}: ${met(median(totals) <= TARGET_MEDIAN_MS)} (Keylime-based design: ${secs(KEYLIME_DESIGN_MS)}, ×${(KEYLIME_DESIGN_MS / median(totals)).toFixed(1)}).`,
      '',
    ].join('\n');
  } finally {
    await Promise.allSettled(sims.map((s) => s.stop()));
    await stack.stop();
  }
}
