import { open, type FileHandle } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { MAX_RESPONSE_SIZE } from './tpm-command.js';
import { TpmError } from './tpm-error.js';

/**
 * Sends raw TPM 2.0 commands and returns raw responses, for the TCTIs where that needs no library:
 * swtpm's TCP server (`swtpm:host=…,port=…`: command and response bytes, no framing) and a TPM
 * character device (`device:/dev/tpmrm0`: write a command, read its response). Other TCTIs (mssim,
 * tabrmd, …) are left to tpm2-tools. A connection is opened per operation and closed after it, so
 * tpm2-tools (and anything else using the same swtpm, which serves one client at a time) is never
 * locked out between operations, and /dev/tpmrm0 flushes whatever the operation left loaded.
 */

export type TransportSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'device'; path: string };

/** The transport for a TCTI string, or undefined when only tpm2-tools can use it. */
export function transportFor(tcti: string): TransportSpec | undefined {
  const colon = tcti.indexOf(':');
  const name = colon < 0 ? tcti : tcti.slice(0, colon);
  const conf = colon < 0 ? '' : tcti.slice(colon + 1);
  if (name === 'device') return { kind: 'device', path: conf === '' ? '/dev/tpm0' : conf };
  return name === 'swtpm' ? swtpmSpec(conf) : undefined;
}

/** tcti-swtpm's `host=…,port=…` (defaults localhost:2321); other keys (a Unix socket path) are left to tpm2-tools. */
function swtpmSpec(conf: string): TransportSpec | undefined {
  const kv = new Map<string, string>();
  for (const part of conf.split(',').filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    kv.set(part.slice(0, eq), part.slice(eq + 1));
  }
  if ([...kv.keys()].some((k) => k !== 'host' && k !== 'port')) return undefined;
  const port = Number(kv.get('port') ?? '2321');
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { kind: 'tcp', host: kv.get('host') ?? 'localhost', port };
}

/** One open connection to the TPM: one command at a time. */
export interface TpmConnection {
  send(command: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export type Connector = () => Promise<TpmConnection>;

export function connector(spec: TransportSpec, timeoutMs = 30_000): Connector {
  return spec.kind === 'tcp' ? () => tcpConnection(spec.host, spec.port, timeoutMs) : () => deviceConnection(spec.path);
}

/** Runs `op` on a fresh connection and closes it afterwards, whatever happened. */
export async function withConnection<T>(connect: Connector, op: (c: TpmConnection) => Promise<T>): Promise<T> {
  const c = await connect();
  try {
    return await op(c);
  } finally {
    await c.close();
  }
}

/** The response size a header announces, or an error when it cannot be a TPM response. */
export function announcedSize(header: Buffer): number {
  const size = header.readUInt32BE(2);
  if (size < 10 || size > MAX_RESPONSE_SIZE) throw new TpmError('tcti', `response header announces ${size} bytes`);
  return size;
}

/** Collects one response from a byte stream: 10 header bytes, then the size the header announces. */
class ResponseAssembler {
  private chunks: Buffer[] = [];
  private have = 0;

  push(chunk: Buffer): Buffer | undefined {
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.have < 10) return undefined;
    const all = Buffer.concat(this.chunks, this.have);
    this.chunks = [all];
    const size = announcedSize(all);
    if (this.have < size) return undefined;
    if (this.have > size) throw new TpmError('tcti', `${this.have - size} bytes after a ${size}-byte response`);
    return all;
  }
}

async function tcpConnection(host: string, port: number, timeoutMs: number): Promise<TpmConnection> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const refused = (e: Error): void => reject(new TpmError('tcti', `cannot connect to swtpm at ${host}:${port}: ${e.message}`));
    const s = connect({ host, port, noDelay: true }, () => { s.off('error', refused); resolve(s); });
    s.once('error', refused);
  });
  socket.setTimeout(timeoutMs);
  let pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void; assembler: ResponseAssembler } | undefined;
  const fail = (e: Error): void => { const p = pending; pending = undefined; p?.reject(e); };
  socket.on('data', (chunk: Buffer) => {
    if (!pending) { fail(new TpmError('tcti', 'unexpected bytes from the TPM')); socket.destroy(); return; }
    try {
      const done = pending.assembler.push(chunk);
      if (done) { const p = pending; pending = undefined; p.resolve(done); }
    } catch (e) {
      fail(e as Error);
      socket.destroy();
    }
  });
  socket.on('timeout', () => { fail(new TpmError('tcti', `no response from swtpm within ${timeoutMs} ms`)); socket.destroy(); });
  socket.on('error', (e) => fail(new TpmError('tcti', `swtpm connection: ${e.message}`)));
  socket.on('close', () => fail(new TpmError('tcti', 'swtpm closed the connection')));
  return {
    send: (command) => new Promise<Buffer>((resolve, reject) => {
      if (pending || socket.destroyed) { reject(new TpmError('tcti', 'connection busy or closed')); return; }
      pending = { resolve, reject, assembler: new ResponseAssembler() };
      socket.write(command);
    }),
    close: () => new Promise<void>((resolve) => {
      if (socket.destroyed) { resolve(); return; }
      socket.once('close', () => resolve());
      socket.end();
    }),
  };
}

async function deviceConnection(path: string): Promise<TpmConnection> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (e) {
    throw new TpmError('tcti', `cannot open ${path}: ${(e as Error).message}`);
  }
  return deviceOn(fh, path);
}

/** A TPM device: a write is one command, the following read returns its whole response. */
export function deviceOn(fh: Pick<FileHandle, 'write' | 'read' | 'close'>, path: string): TpmConnection {
  return {
    send: async (command) => {
      const { bytesWritten } = await fh.write(command, 0, command.length, null);
      if (bytesWritten !== command.length) throw new TpmError('tcti', `${path}: wrote ${bytesWritten} of ${command.length} bytes`);
      const buf = Buffer.alloc(MAX_RESPONSE_SIZE);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead < 10) throw new TpmError('tcti', `${path}: ${bytesRead}-byte response`);
      const size = announcedSize(buf);
      if (size !== bytesRead) throw new TpmError('tcti', `${path}: response announces ${size} bytes, read ${bytesRead}`);
      return buf.subarray(0, bytesRead);
    },
    close: () => fh.close(),
  };
}
