import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { pollUntil } from './wait.js';

/** Where and how to run redis-server. */
export interface RedisOptions {
  readonly binary: string;
  readonly dir: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** More redis-server arguments (e.g. `--replicaof`). */
  readonly args?: readonly string[];
}

/**
 * A redis-server on 127.0.0.1 without persistence. It can be stopped and started again on the same port
 * (data is lost, as in a real crash of a non-persistent Redis), for failure tests.
 */
export class RedisServer {
  readonly url: string;
  private current: ManagedProcess | undefined;
  private readonly started: ManagedProcess[] = [];

  constructor(private readonly opts: RedisOptions) {
    this.url = `redis://127.0.0.1:${opts.port}`;
  }

  /** Starts redis-server (if not running) and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.current !== undefined && this.current.exit === undefined) return;
    await mkdir(this.opts.dir, { recursive: true });
    const child = await ManagedProcess.start({
      name: 'redis-server',
      command: this.opts.binary,
      args: ['--port', String(this.opts.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', this.opts.dir, '--daemonize', 'no', '--protected-mode', 'yes', ...(this.opts.args ?? [])],
      logFile: path.join(this.opts.dir, 'redis.log'),
    });
    this.current = child;
    this.started.push(child);
    try {
      await pollUntil('redis-server PING', () => ping(this.opts.port), { timeoutMs: this.opts.timeoutMs, intervalMs: 50, check: () => child.assertRunning() });
    } catch (error) {
      await child.stop();
      throw error;
    }
  }

  /** Stops redis-server (SIGTERM, then SIGKILL); a no-op when it is not running. */
  async stop(): Promise<void> {
    await this.current?.stop();
  }

  /** SIGKILLs redis-server (a crash: no shutdown, clients see their connections reset); a no-op when it is not running. */
  async kill(): Promise<void> {
    await this.current?.kill();
  }

  /** The port it listens on. */
  get port(): number {
    return this.opts.port;
  }

  /** The pids of every redis-server this object started. */
  pids(): number[] {
    return this.started.map((child) => child.pid);
  }
}

/** Sends PING over a raw connection; resolves true on +PONG. */
export function ping(port: number, host = '127.0.0.1'): Promise<true | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('PING timed out')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (!reply.includes('\r\n')) return;
      socket.end();
      resolve(reply.startsWith('+PONG') ? true : undefined);
    });
  });
}
