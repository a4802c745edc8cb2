import { readPcrs, submit } from './native-tpm.js';
import { TpmResponseError, parseFlushContextResponse } from './tpm-command.js';
import type { TpmConnection } from './tpm-transport.js';

const RETRY = Buffer.from('80010000000a00000922', 'hex');
const OK = Buffer.from('80010000000a00000000', 'hex');

/** A connection answering from a script, recording what it was sent. */
function scripted(answers: Buffer[]): TpmConnection & { sent: Buffer[] } {
  const sent: Buffer[] = [];
  return {
    sent,
    send: (cmd) => { sent.push(cmd); return Promise.resolve(answers.shift() ?? RETRY); },
    close: () => Promise.resolve(),
  };
}

/** A PCR_Read response returning the first `n` of the asked-for sha256 PCRs (value = index byte repeated). */
function pcrReadAnswer(indices: number[]): Buffer {
  const bitmap = Buffer.alloc(3);
  for (const i of indices) bitmap[i >> 3]! |= 1 << (i & 7);
  const digests = indices.map((i) => Buffer.concat([Buffer.from([0, 32]), Buffer.alloc(32, i)]));
  const body = Buffer.concat([Buffer.from('00000005 00000001 000b 03'.replace(/ /g, ''), 'hex'), bitmap,
    Buffer.from([0, 0, 0, indices.length]), ...digests]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(0x8001, 0);
  head.writeUInt32BE(10 + body.length, 2);
  return Buffer.concat([head, body]);
}

describe('native TPM operations', () => {
  it('sends a command again while the TPM answers TPM_RC_RETRY, up to five times', async () => {
    const c = scripted([RETRY, RETRY, OK]);
    expect(await submit(c, Buffer.from('00', 'hex'))).toEqual(OK);
    expect(c.sent).toHaveLength(3);
    const stuck = scripted([]);
    const last = await submit(stuck, Buffer.from('00', 'hex'));
    expect(stuck.sent).toHaveLength(5);
    expect(() => parseFlushContextResponse(last)).toThrow(TpmResponseError);
  });
  it('reads PCRs 8 at a time until all selected are read, asking only for the rest', async () => {
    const all = Array.from({ length: 12 }, (_, i) => i);
    const c = scripted([pcrReadAnswer(all.slice(0, 8)), pcrReadAnswer(all.slice(8))]);
    const pcrs = await readPcrs(c, { sha256: all });
    expect(Object.keys(pcrs.sha256!)).toEqual(all.map(String));
    expect(pcrs.sha256!['11']).toBe('0b'.repeat(32));
    expect(c.sent).toHaveLength(2);
    expect(c.sent[1]!.subarray(-3).toString('hex')).toBe('000f00'); // the second read asks for PCRs 8-11 only
  });
  it('stops when the TPM returns none of the PCRs asked for (a PCR it does not have)', async () => {
    const c = scripted([pcrReadAnswer([0]), pcrReadAnswer([])]);
    expect(await readPcrs(c, { sha256: [0, 23] })).toEqual({ sha256: { 0: '00'.repeat(32) } });
    expect(c.sent).toHaveLength(2);
  });
});
