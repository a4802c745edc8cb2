import { appendFile, mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeImaNgEntry } from '@nodeward/attest/testing';
import { ImaLogIndex, imaEntryLength } from './ima-log-index.js';

const entry = (i: number): Buffer => encodeImaNgEntry({ path: `/bin/f${i}`, fileDigest: Buffer.alloc(32, i) }).bytes;

describe('IMA log index', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'nw-ima-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('returns entries from N and the total, reading only appended bytes', async () => {
    const path = join(dir, 'list');
    await writeFile(path, Buffer.concat([entry(0), entry(1)]));
    const idx = new ImaLogIndex(path);
    expect(await idx.slice(0)).toEqual({ from: 0, total: 2, entries: Buffer.concat([entry(0), entry(1)]) });
    const e2 = entry(2);
    await appendFile(path, Buffer.concat([e2, e2.subarray(0, 10)]));
    expect(await idx.slice(2)).toEqual({ from: 2, total: 3, entries: e2 });
    await appendFile(path, e2.subarray(10));
    expect((await idx.slice(3)).total).toBe(4);
    expect(await idx.slice(9)).toEqual({ from: 9, total: 4, entries: Buffer.alloc(0) });
  });
  it('starts over when the list is replaced (reboot)', async () => {
    const path = join(dir, 'list2');
    await writeFile(path, Buffer.concat([entry(0), entry(1), entry(2)]));
    const idx = new ImaLogIndex(path);
    expect((await idx.slice(0)).total).toBe(3);
    await writeFile(`${path}.new`, entry(7));
    await rename(`${path}.new`, path);
    expect(await idx.slice(0)).toEqual({ from: 0, total: 1, entries: entry(7) });
  });
  it('rejects absurd lengths instead of allocating them', () => {
    const bad = Buffer.concat([entry(0).subarray(0, 24), Buffer.from([0xff, 0xff, 0xff, 0x7f])]);
    expect(() => imaEntryLength(bad, 0)).toThrow(/template name length/);
    expect(imaEntryLength(entry(0).subarray(0, 30), 0)).toBe(0);
  });
});
