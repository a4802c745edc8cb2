import { createServer } from 'node:net';

/** A currently free TCP port on the given loopback address (the OS picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host, port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port }, () => srv.close(() => resolve(true)));
  });
}

/** Two consecutive free ports (swtpm's TCTI expects the control channel at port + 1). */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort(host);
    if (p < 65535 && (await canListen(host, p + 1))) return p;
  }
  throw new Error(`no two consecutive free ports on ${host}`);
}
