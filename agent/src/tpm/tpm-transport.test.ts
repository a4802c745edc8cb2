import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connector, deviceOn, transportFor, withConnection } from './tpm-transport.js';
import { TpmError } from './tpm-error.js';

const RESPONSE = Buffer.from('80010000000c000000000102', 'hex');

describe('TCTI strings', () => {
  it.each([
    ['swtpm:host=127.0.0.1,port=2321', { kind: 'tcp', host: '127.0.0.1', port: 2321 }],
    ['swtpm:port=4000', { kind: 'tcp', host: 'localhost', port: 4000 }],
    ['swtpm', { kind: 'tcp', host: 'localhost', port: 2321 }],
    ['device:/dev/tpmrm0', { kind: 'device', path: '/dev/tpmrm0' }],
    ['device', { kind: 'device', path: '/dev/tpm0' }],
    ['swtpm:path=/run/swtpm.sock', undefined],
    ['swtpm:host=h,port=99999', undefined],
    ['swtpm:host', undefined],
    ['mssim:host=127.0.0.1,port=2321', undefined],
    ['tabrmd:bus_type=session', undefined],
  ])('%s', (tcti, spec) => {
    expect(transportFor(tcti)).toEqual(spec);
  });
});

/** A stand-in TPM on loopback: `answer` decides what each command gets back. */
async function fakeTpm(answer: (cmd: Buffer, s: Socket) => void): Promise<{ server: Server; port: number; commands: Buffer[] }> {
  const commands: Buffer[] = [];
  const server = createServer((s) => s.on('data', (d: Buffer) => { commands.push(d); answer(d, s); }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, commands };
}

describe('swtpm TCP transport', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });
  const start = async (answer: (cmd: Buffer, s: Socket) => void): Promise<{ port: number; commands: Buffer[] }> => {
    const t = await fakeTpm(answer);
    servers.push(t.server);
    return t;
  };

  it('sends the command bytes as they are and reassembles a response split across packets', async () => {
    const t = await start((_cmd, s) => { s.write(RESPONSE.subarray(0, 3)); setTimeout(() => s.write(RESPONSE.subarray(3)), 10); });
    const cmd = Buffer.from('80010000000c0000017e0000', 'hex');
    const got = await withConnection(connector({ kind: 'tcp', host: '127.0.0.1', port: t.port }), async (c) => [await c.send(cmd), await c.send(cmd)]);
    expect(got).toEqual([RESPONSE, RESPONSE]);
    expect(Buffer.concat(t.commands)).toEqual(Buffer.concat([cmd, cmd]));
  });
  it.each([
    ['a header announcing more than any TPM sends', (s: Socket): void => { s.write(Buffer.from('80010100000000000000', 'hex')); }, /announces/],
    ['bytes past the announced size', (s: Socket): void => { s.write(Buffer.concat([RESPONSE, Buffer.from([0])])); }, /after a 12-byte response/],
    ['the connection closed mid-response', (s: Socket): void => { s.end(RESPONSE.subarray(0, 5)); }, /closed the connection/],
  ])('fails with a TpmError on %s', async (_what, answer, message) => {
    const t = await start((_cmd, s) => answer(s));
    const run = withConnection(connector({ kind: 'tcp', host: '127.0.0.1', port: t.port }), (c) => c.send(Buffer.from('8001000000', 'hex')));
    await expect(run).rejects.toThrow(TpmError);
    await expect(run).rejects.toThrow(message);
  });
  it('fails with a TpmError when nothing answers in time', async () => {
    const t = await start(() => undefined);
    await expect(withConnection(connector({ kind: 'tcp', host: '127.0.0.1', port: t.port }, 50), (c) => c.send(Buffer.from('00', 'hex'))))
      .rejects.toThrow(/no response from swtpm/);
  });
  it('fails with a TpmError when nothing listens', async () => {
    const t = await start(() => undefined);
    const port = t.port;
    await new Promise((resolve) => servers.pop()!.close(resolve));
    await expect(connector({ kind: 'tcp', host: '127.0.0.1', port })()).rejects.toThrow(/cannot connect to swtpm/);
  });
});

describe('TPM device transport', () => {
  const device = (reply: Buffer, written?: number): { writes: Buffer[]; fh: Parameters<typeof deviceOn>[0] } => {
    const writes: Buffer[] = [];
    const fh = {
      write: (b: Buffer) => { writes.push(Buffer.from(b)); return Promise.resolve({ bytesWritten: written ?? b.length, buffer: b }); },
      read: (b: Buffer) => { reply.copy(b); return Promise.resolve({ bytesRead: reply.length, buffer: b }); },
      close: () => Promise.resolve(),
    } as unknown as Parameters<typeof deviceOn>[0];
    return { writes, fh };
  };
  it('writes one command and reads its whole response', async () => {
    const d = device(RESPONSE);
    const cmd = Buffer.from('80010000000a00000165', 'hex');
    expect(await deviceOn(d.fh, '/dev/tpmrm0').send(cmd)).toEqual(RESPONSE);
    expect(d.writes).toEqual([cmd]);
  });
  it.each([
    ['a short read', device(RESPONSE.subarray(0, 11)), /announces 12 bytes, read 11/],
    ['a short write', device(RESPONSE, 3), /wrote 3 of 10/],
    ['no header', device(RESPONSE.subarray(0, 4)), /4-byte response/],
  ])('fails with a TpmError on %s', async (_what, d, message) => {
    const run = deviceOn(d.fh, '/dev/tpmrm0').send(Buffer.from('80010000000a00000165', 'hex'));
    await expect(run).rejects.toThrow(TpmError);
    await expect(run).rejects.toThrow(message);
  });
});
