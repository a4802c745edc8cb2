import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { allocateFreePorts } from './free-ports.js';
import { ManagedProcess } from './managed-process.js';
import { ping, RedisServer } from './redis.js';
import { pollUntil } from './wait.js';

/** How to run the topology; the binaries are Debian's redis-server and redis-sentinel. */
export interface SentinelTopologyOptions {
  readonly dir: string;
  /** The primary's name in the sentinels' configuration. Default `nodeward`. */
  readonly name?: string;
  /** How long a sentinel waits for an unanswering primary before calling it down. Default 1000 ms. */
  readonly downAfterMs?: number;
  readonly timeoutMs?: number;
}

const QUORUM = 2;

/**
 * Redis as production runs it with Sentinel, on loopback: a primary, a replica of it and three
 * `redis-sentinel` processes (quorum 2) watching them. No persistence: the replica holds what the
 * primary had replicated, as it does when the primary's machine dies. `crashPrimary` SIGKILLs the
 * current primary; the sentinels then promote the replica. `restartCrashed` brings the crashed server
 * back empty, and the sentinels turn it into a replica of the new primary.
 */
export class RedisSentinelTopology {
  readonly name: string;
  private readonly servers: RedisServer[];
  private readonly sentinelPorts: number[];
  private readonly sentinelProcs: ManagedProcess[] = [];
  private crashed: RedisServer | undefined;

  private constructor(private readonly opts: Required<SentinelTopologyOptions>, ports: number[]) {
    this.name = opts.name;
    const [primaryPort, replicaPort, ...sentinelPorts] = ports as [number, number, ...number[]];
    const server = (role: string, port: number, args: string[] = []): RedisServer => new RedisServer({
      binary: 'redis-server', dir: path.join(opts.dir, `redis-${role}`), port, timeoutMs: opts.timeoutMs,
      // Full syncs at once (the default waits 5 s for more replicas).
      args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', ...args],
    });
    this.servers = [server('a', primaryPort), server('b', replicaPort, ['--replicaof', '127.0.0.1', String(primaryPort)])];
    this.sentinelPorts = sentinelPorts;
  }

  /** Starts the primary, the replica (in sync) and three sentinels that agree on the primary. */
  static async start(options: SentinelTopologyOptions): Promise<RedisSentinelTopology> {
    const opts: Required<SentinelTopologyOptions> = { name: 'nodeward', downAfterMs: 1000, timeoutMs: 30_000, ...options };
    const t = new RedisSentinelTopology(opts, await allocateFreePorts(5));
    try {
      for (const s of t.servers) await s.start();
      await t.waitForReplicas(1);
      for (const port of t.sentinelPorts) t.sentinelProcs.push(await t.startSentinel(port));
      await t.waitForSentinels();
      return t;
    } catch (e) {
      await t.stop();
      throw e;
    }
  }

  /** `host:port,…` of the sentinels, as NODEWARD_REDIS_SENTINELS takes it. */
  get sentinels(): string {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** The operator's environment for this topology (NODEWARD_REDIS_URL cleared). */
  operatorEnv(): Record<string, string> {
    return { NODEWARD_REDIS_URL: '', NODEWARD_REDIS_SENTINELS: this.sentinels, NODEWARD_REDIS_SENTINEL_NAME: this.name };
  }

  /** The port of the primary as the first sentinel names it. */
  async primaryPort(): Promise<number> {
    const reply = await this.sentinelCall(this.sentinelPorts[0]!, 'get-master-addr-by-name', this.name) as [string, string] | null;
    if (reply === null) throw new Error(`sentinel knows no primary named ${this.name}`);
    return Number(reply[1]);
  }

  /** A client of the current primary (for a test's own reads; the caller disconnects it). */
  async primaryClient(): Promise<Redis> {
    return new Redis({ port: await this.primaryPort(), host: '127.0.0.1', maxRetriesPerRequest: 1, lazyConnect: false });
  }

  /** SIGKILLs the current primary; resolves with its port once it is dead. */
  async crashPrimary(): Promise<number> {
    const port = await this.primaryPort();
    const server = this.servers.find((s) => s.port === port);
    if (server === undefined) throw new Error(`the primary on ${port} is not one of this topology's servers`);
    await server.kill();
    this.crashed = server;
    return port;
  }

  /** Waits until every sentinel names a primary other than `oldPort` and it answers as a primary. */
  async waitForFailover(oldPort: number, timeoutMs = 30_000): Promise<number> {
    let now = 0;
    await pollUntil('sentinel failover', async () => {
      const ports = await Promise.all(this.sentinelPorts.map(async (p) => Number((await this.sentinelCall(p, 'get-master-addr-by-name', this.name) as [string, string])[1])));
      now = ports[0]!;
      return ports.every((p) => p === now && p !== oldPort) && (await role(now)) === 'master' ? true : undefined;
    }, { timeoutMs, intervalMs: 100 });
    return now;
  }

  /** Starts the crashed server again, empty; the sentinels make it a replica of the new primary. */
  async restartCrashed(): Promise<void> {
    const s = this.crashed;
    if (s === undefined) return;
    this.crashed = undefined;
    await s.start();
    await this.waitForReplicas(1);
  }

  pids(): number[] {
    return [...this.servers.flatMap((s) => s.pids()), ...this.sentinelProcs.map((p) => p.pid)];
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinelProcs.map((p) => p.stop()), ...this.servers.map((s) => s.stop())]);
  }

  private async startSentinel(port: number): Promise<ManagedProcess> {
    const dir = path.join(this.opts.dir, `sentinel-${port}`);
    await mkdir(dir, { recursive: true });
    const conf = path.join(dir, 'sentinel.conf');
    // The sentinel rewrites this file (known replicas and sentinels, the current epoch).
    await writeFile(conf, [
      `port ${port}`, 'bind 127.0.0.1', 'daemonize no', `dir ${dir}`,
      `sentinel monitor ${this.name} 127.0.0.1 ${this.servers[0]!.port} ${QUORUM}`,
      `sentinel down-after-milliseconds ${this.name} ${this.opts.downAfterMs}`,
      `sentinel failover-timeout ${this.name} ${Math.max(3 * this.opts.downAfterMs, 3000)}`,
      `sentinel parallel-syncs ${this.name} 1`, '',
    ].join('\n'));
    const proc = await ManagedProcess.start({ name: 'redis-sentinel', command: 'redis-sentinel', args: [conf], logFile: path.join(dir, 'sentinel.log') });
    await pollUntil('redis-sentinel PING', () => ping(port), { timeoutMs: this.opts.timeoutMs, intervalMs: 50, check: () => proc.assertRunning() });
    return proc;
  }

  /** Every sentinel sees the replica and the two other sentinels (so a quorum can form at once). */
  private async waitForSentinels(): Promise<void> {
    await pollUntil('sentinels discover each other and the replica', async () => {
      const views = await Promise.all(this.sentinelPorts.map((p) => this.sentinelCall(p, 'master', this.name) as Promise<string[]>));
      return views.every((v) => field(v, 'num-other-sentinels') === String(this.sentinelPorts.length - 1) && field(v, 'num-slaves') === '1') ? true : undefined;
    }, { timeoutMs: this.opts.timeoutMs, intervalMs: 200 });
  }

  private async waitForReplicas(n: number): Promise<void> {
    await pollUntil(`${n} replica in sync`, async () => {
      for (const s of this.servers.filter((x) => x !== this.crashed)) {
        if (await role(s.port) !== 'master') continue;
        const info = await command(s.port, 'info', 'replication') as string;
        return info.split('\r\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length >= n ? true : undefined;
      }
      return undefined;
    }, { timeoutMs: this.opts.timeoutMs, intervalMs: 100 });
  }

  private sentinelCall(port: number, ...args: string[]): Promise<unknown> {
    return command(port, 'sentinel', ...args);
  }
}

/** One command on a short-lived connection. */
async function command(port: number, ...args: string[]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.call(args[0]!, ...args.slice(1));
  } finally {
    r.disconnect();
  }
}

async function role(port: number): Promise<string> {
  return ((await command(port, 'role')) as [string])[0];
}

/** A value of a flat [key, value, …] reply. */
function field(flat: string[], key: string): string | undefined {
  const i = flat.indexOf(key);
  return i < 0 || i % 2 !== 0 ? undefined : flat[i + 1];
}
