import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parseRedisEndpoint, redisOptions } from '../../../operator/src/state/redis-config.js';
import { RedisSentinelTopology } from './redis-sentinel.js';

/**
 * The Sentinel topology (real redis-server and redis-sentinel) and the operator's own client options
 * on it: the primary SIGKILLed, the sentinels promote the replica, and a client configured as the
 * operator configures its clients finds the new primary with what was replicated, its commands issued
 * during the failover waiting for it instead of failing.
 */
describe('RedisSentinelTopology', () => {
  let dir: string;
  let topology: RedisSentinelTopology;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nodeward-sentinel-'));
    topology = await RedisSentinelTopology.start({ dir });
  }, 60_000);
  afterAll(async () => {
    await topology?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails over to the replica when the primary is SIGKILLed, and the operator\'s client follows', async () => {
    const client = new Redis(redisOptions(parseRedisEndpoint(topology.operatorEnv())));
    const errors: string[] = [];
    client.on('error', (e: Error) => errors.push(e.message));
    try {
      for (let i = 0; i < 100; i++) await client.set(`k${i}`, String(i));
      // Replicated before the crash (WAIT: the replica acknowledged every write).
      expect(await client.wait(1, 5000)).toBe(1);
      const before = await topology.primaryPort();

      const crashedAt = Date.now();
      const oldPort = await topology.crashPrimary();
      expect(oldPort).toBe(before);
      // Issued while there is no primary: it waits (maxRetriesPerRequest: null) and lands on the new one.
      const during = client.set('during', 'failover');
      const newPort = await topology.waitForFailover(oldPort);
      const promotedMs = Date.now() - crashedAt;
      await during;
      const servedMs = Date.now() - crashedAt;
      console.log(`primary ${oldPort} SIGKILLed: sentinels promoted ${newPort} after ${promotedMs} ms; the operator's client wrote again after ${servedMs} ms`);
      expect(newPort).not.toBe(oldPort);
      expect(await client.get('k99')).toBe('99');
      expect(await client.get('during')).toBe('failover');
      expect((await client.call('role') as [string])[0]).toBe('master');
      // down-after 1 s, then election and promotion.
      expect(servedMs).toBeLessThan(15_000);

      // The crashed server comes back empty and becomes a replica of the new primary.
      await topology.restartCrashed();
      expect(await topology.primaryPort()).toBe(newPort);
      expect(await client.wait(1, 5000)).toBe(1);
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
