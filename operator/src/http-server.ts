import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics.js';

export interface HttpServerDeps {
  /**
   * Undefined when ready: informers have listed at least once and Redis (rounds, node state) is
   * connected; otherwise why not, served as the 503 body.
   */
  notReady: () => string | undefined;
  /** The current CRL (PEM), or undefined before the CA is loaded. */
  crl: () => string | undefined;
}

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The port is reachable from every node (host network): a client that sends its request slowly or
 * never is cut off after `REQUEST_TIMEOUT_MS` instead of holding a socket for Node's default 5 min,
 * and at most `MAX_CONNECTIONS` are open at once.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
export const MAX_CONNECTIONS = 256;

/** /healthz, /readyz, /metrics (Prometheus), /crl (PEM). GET only. */
export async function startHttpServer(port: number, deps: HttpServerDeps, host = '0.0.0.0', requestTimeoutMs = REQUEST_TIMEOUT_MS): Promise<RunningHttpServer> {
  const server = http.createServer({
    headersTimeout: requestTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
  }, (req, res) => {
    handle(req, deps).then(
      ({ status, type, body }) => {
        res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
        res.end(body);
      },
      () => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error\n');
      },
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(req: http.IncomingMessage, deps: HttpServerDeps): Promise<{ status: number; type: string; body: string }> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, type: 'text/plain', body: 'method not allowed\n' };
  switch (path) {
    case '/healthz':
      return { status: 200, type: 'text/plain', body: 'ok\n' };
    case '/readyz': {
      const reason = deps.notReady();
      return reason === undefined ? { status: 200, type: 'text/plain', body: 'ok\n' } : { status: 503, type: 'text/plain', body: `not ready: ${reason}\n` };
    }
    case '/metrics':
      return { status: 200, type: registry.contentType, body: await registry.metrics() };
    case '/crl': {
      const crl = deps.crl();
      return crl === undefined ? { status: 503, type: 'text/plain', body: 'CRL not available yet\n' } : { status: 200, type: 'application/x-pem-file', body: crl };
    }
    default:
      return { status: 404, type: 'text/plain', body: 'not found\n' };
  }
}
