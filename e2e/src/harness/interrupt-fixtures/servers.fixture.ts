import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness } from '../harness.js';

// Run only by interrupt.int.test.ts (a .fixture.ts, outside the suite's testMatch; NODEWARD_INTERRUPT_REPORT_DIR set): starts etcd,
// kube-apiserver and redis-server, reports them, and waits to be interrupted.
const reportDir = process.env['NODEWARD_INTERRUPT_REPORT_DIR'];
it('starts the servers and waits to be interrupted', async () => {
  const h = await startHarness({ installCrds: false, log: () => undefined });
  writeFileSync(path.join(reportDir!, 'servers.json'), JSON.stringify({ pids: h.pids(), dirs: [h.tempDir], worker: process.pid }));
  await new Promise(() => undefined);
}, 600_000);
