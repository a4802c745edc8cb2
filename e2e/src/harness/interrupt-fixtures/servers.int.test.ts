import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness } from '../harness.js';

// Started only by interrupt.int.test.ts (NODEWARD_INTERRUPT_REPORT_DIR set): starts etcd,
// kube-apiserver and redis-server, reports them, and waits to be interrupted. Skipped otherwise.
const reportDir = process.env['NODEWARD_INTERRUPT_REPORT_DIR'];
(reportDir === undefined ? it.skip : it)('starts the servers and waits to be interrupted', async () => {
  const h = await startHarness({ installCrds: false, log: () => undefined });
  writeFileSync(path.join(reportDir ?? '', 'servers.json'), JSON.stringify({ pids: h.pids(), dirs: [h.tempDir], worker: process.pid }));
  await new Promise(() => undefined);
}, 600_000);
