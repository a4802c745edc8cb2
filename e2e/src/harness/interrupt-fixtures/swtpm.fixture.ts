import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSwtpmCa, startSwtpm } from '../../sim/swtpm.js';

// Run only by interrupt.int.test.ts (a .fixture.ts, outside the suite's testMatch; NODEWARD_INTERRUPT_REPORT_DIR set): starts an swtpm
// (its own process group) on a state directory, reports it, and waits to be interrupted.
const reportDir = process.env['NODEWARD_INTERRUPT_REPORT_DIR'];
it('starts an swtpm and waits to be interrupted', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nw-interrupt-swtpm-'));
  const tpm = await startSwtpm({ ca: await createSwtpmCa(path.join(dir, 'ca')), stateDir: path.join(dir, 'tpm') });
  writeFileSync(path.join(reportDir!, 'swtpm.json'), JSON.stringify({ pids: [tpm.pid()], dirs: [tpm.stateDir], worker: process.pid, parent: dir }));
  await new Promise(() => undefined);
}, 600_000);
