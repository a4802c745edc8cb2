import { parseImaAsciiLog, parseImaBinaryLog, verifyImaLog } from '@nodeward/attest';
import { encodeLog, imaFixture, measuredFiles, pcr10After } from './ima-fixture.js';

describe('bench IMA fixture', () => {
  it('writes the ASCII list with the same entries and template hashes as the binary list', () => {
    const log = encodeLog(measuredFiles(200));
    const bin = parseImaBinaryLog(log.binary);
    const ascii = parseImaAsciiLog(Buffer.from(log.ascii));
    expect(ascii.map((e) => [e.name, e.templateHash.toString('hex')])).toEqual(bin.map((e) => [e.name, e.templateHash.toString('hex')]));
    expect(log.ascii.split('\n')[1]).toMatch(/^10 [0-9a-f]{40} ima-ng sha256:[0-9a-f]{64} \/\S+$/);
  });

  it('gives a policy the log passes, with PCR 10 as replayed independently', () => {
    const fx = imaFixture(500);
    const r = verifyImaLog(fx.binary, fx.policy, { quotedPcr10: { bank: 'sha256', value: pcr10After(fx.entries, 'sha256') } });
    expect(r.failures).toEqual([]);
    expect(r.state.count).toBe(500);
  });
});
