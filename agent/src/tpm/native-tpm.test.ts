import { nativeFixedProperties, nativeFlushAll, readPcrs, submit } from './native-tpm.js';
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

/** A GetCapability(TPM_CAP_HANDLES) answer listing `handles`. */
function handlesAnswer(handles: number[]): Buffer {
  const body = Buffer.alloc(9 + 4 * handles.length);
  body.writeUInt32BE(1, 1); // capability TPM_CAP_HANDLES (moreData 0 before it)
  body.writeUInt32BE(handles.length, 5);
  handles.forEach((h, i) => body.writeUInt32BE(h, 9 + 4 * i));
  const head = Buffer.alloc(10);
  head.writeUInt16BE(0x8001, 0);
  head.writeUInt32BE(10 + body.length, 2);
  return Buffer.concat([head, body]);
}

describe('native TPM operations', () => {
  it('flushes every transient object and session each range lists, then lists again until a range is empty', async () => {
    const c = scripted([
      handlesAnswer([0x80000000, 0x80000001]), OK, OK, handlesAnswer([]), // transient objects
      handlesAnswer([0x02000000]), OK, handlesAnswer([]), // loaded sessions
      handlesAnswer([]), // saved sessions
    ]);
    expect(await nativeFlushAll(c)).toBe(3);
    const flushed = c.sent.filter((b) => b.readUInt32BE(6) === 0x165).map((b) => b.readUInt32BE(10).toString(16));
    expect(flushed).toEqual(['80000000', '80000001', '2000000']);
    expect(c.sent.filter((b) => b.readUInt32BE(6) === 0x17a).map((b) => b.readUInt32BE(14).toString(16))).toEqual(['80000000', '80000000', '2000000', '2000000', '3000000']);
  });
  it('fails the flush with a TpmResponseError when a flush is refused', async () => {
    await expect(nativeFlushAll(scripted([handlesAnswer([0x80000000]), Buffer.from('80010000000a0000018b', 'hex')]))).rejects.toThrow(TpmResponseError);
  });
  it('reads the fixed properties as TPM_PT → value', async () => {
    const body = Buffer.from('00 00000006 00000002 00000105 49424d00 0000010b 20191023'.replace(/ /g, ''), 'hex');
    const head = Buffer.alloc(10);
    head.writeUInt16BE(0x8001, 0);
    head.writeUInt32BE(10 + body.length, 2);
    const props = await nativeFixedProperties(scripted([Buffer.concat([head, body])]));
    expect(props).toEqual(new Map([[0x105, 0x49424d00], [0x10b, 0x20191023]]));
  });
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
