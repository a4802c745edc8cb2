import { open, type FileHandle } from 'node:fs/promises';

/**
 * An index of entry offsets in the IMA binary runtime measurement list. The list only grows until
 * reboot, so each refresh reads and walks only the bytes after the last complete entry: repeated
 * polls cost O(new entries). securityfs reports size 0, so the end is found by reading to EOF; a
 * different inode, or a regular file shorter than what was indexed, starts the index over.
 */

/** Upper bounds that keep a corrupt list from making the walker allocate without limit. */
const MAX_TEMPLATE_NAME = 255;
const MAX_TEMPLATE_DATA = 16 << 20;
const SHA1_SIZE = 20;
const CHUNK = 256 << 10;

/** Length of the complete entry at `off`, 0 when the bytes end inside it; throws when it is malformed. */
export function imaEntryLength(buf: Buffer, off: number): number {
  // pcr u32le | template digest [20] | name len u32le | name | data len u32le | data
  const nameLenAt = off + 4 + SHA1_SIZE;
  if (buf.length < nameLenAt + 4) return 0;
  const nameLen = buf.readUInt32LE(nameLenAt);
  if (nameLen === 0 || nameLen > MAX_TEMPLATE_NAME) throw new Error(`IMA entry at ${off}: template name length ${nameLen}`);
  const dataLenAt = nameLenAt + 4 + nameLen;
  if (buf.length < dataLenAt + 4) return 0;
  const dataLen = buf.readUInt32LE(dataLenAt);
  if (dataLen > MAX_TEMPLATE_DATA) throw new Error(`IMA entry at ${off}: template data length ${dataLen}`);
  const end = dataLenAt + 4 + dataLen;
  return buf.length < end ? 0 : end - off;
}

export interface ImaSlice {
  from: number;
  total: number;
  entries: Buffer;
}

export class ImaLogIndex {
  private offsets: number[] = [];
  private end = 0;
  private ino = -1;

  constructor(private readonly path: string) {}

  /** Entries from `from` (0-based) to the end of the list as it is now. */
  async slice(from: number): Promise<ImaSlice> {
    const fh = await open(this.path, 'r');
    try {
      await this.refresh(fh);
      const total = this.offsets.length;
      if (from >= total) return { from, total, entries: Buffer.alloc(0) };
      const start = this.offsets[from]!;
      return { from, total, entries: await readRange(fh, start, this.end - start) };
    } finally {
      await fh.close();
    }
  }

  private async refresh(fh: FileHandle): Promise<void> {
    const st = await fh.stat();
    if (st.ino !== this.ino || (st.size > 0 && st.size < this.end)) {
      this.offsets = [];
      this.end = 0;
      this.ino = st.ino;
    }
    let pending: Buffer = Buffer.alloc(0);
    let pos = this.end;
    for (;;) {
      const chunk = await readRange(fh, pos, CHUNK);
      if (chunk.length === 0) break;
      pos += chunk.length;
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = this.indexComplete(pending);
    }
  }

  /** Records the complete entries at the start of `buf` and returns the incomplete rest. */
  private indexComplete(buf: Buffer): Buffer {
    let off = 0;
    for (let len = imaEntryLength(buf, off); len > 0; len = imaEntryLength(buf, off)) {
      this.offsets.push(this.end);
      this.end += len;
      off += len;
    }
    return buf.subarray(off);
  }
}

async function readRange(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}
