import { Redis } from 'ioredis';
import type { RoundState } from '@nodeward/attest';
import { RedisNodeStateStore } from './redis-node-state-store.js';
import { TestRedis } from './testing/redis-server.js';

let server: TestRedis;
let redis: Redis;
let n = 0;
const warnings: string[] = [];

beforeAll(async () => {
  server = await TestRedis.start();
  // As the operator connects: auto-pipelining, so concurrent rounds' GETs and SETs share socket writes.
  redis = new Redis({ ...server.connection, enableAutoPipelining: true });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function store(): RedisNodeStateStore {
  return new RedisNodeStateStore({ redis, prefix: `test${++n}:state:`, log: { warn: (m, f) => warnings.push(`${m} ${String(f?.['field'])}`) } });
}

const full: RoundState = {
  ima: { count: 1234, pcr10: { sha1: '11'.repeat(20), sha256: '22'.repeat(32) } },
  resetCount: 3, restartCount: 0, bootPcrsDigest: 'ab'.repeat(32), kernelCmdlines: ['root=/dev/dm-0 ro', 'quiet'],
};

it('round-trips a state under nodeward:state:<node>, and deletes it', async () => {
  const s = new RedisNodeStateStore({ redis });
  await s.put('node-a', full);
  expect(JSON.parse((await redis.get('nodeward:state:node-a'))!)).toEqual({ v: 1, state: full });
  expect(await s.get('node-a')).toEqual(full);
  await s.delete('node-a');
  expect(await s.get('node-a')).toBeUndefined();
});

it('round-trips a minimal state and reads a missing node as undefined', async () => {
  const s = store();
  const minimal: RoundState = { ima: { count: 0, pcr10: { sha1: '00'.repeat(20), sha256: '00'.repeat(32) } } };
  await s.put('n', minimal);
  expect(await s.get('n')).toEqual(minimal);
  expect(await s.get('other')).toBeUndefined();
  // A round replays only the bank it checks.
  const oneBank: RoundState = { ima: { count: 7, pcr10: { sha256: '33'.repeat(32) } } };
  await s.put('n', oneBank);
  expect(await s.get('n')).toEqual(oneBank);
});

it.each([
  ['not JSON', '{"v":1,'],
  ['another format version', JSON.stringify({ v: 2, state: full })],
  ['a negative IMA count', JSON.stringify({ v: 1, state: { ...full, ima: { ...full.ima, count: -1 } } })],
  ['a short PCR 10', JSON.stringify({ v: 1, state: { ...full, ima: { count: 1, pcr10: { sha1: '00', sha256: '22'.repeat(32) } } } })],
  ['no PCR 10 bank at all', JSON.stringify({ v: 1, state: { ...full, ima: { count: 1, pcr10: {} } } })],
  ['a sha1-sized sha256 PCR 10', JSON.stringify({ v: 1, state: { ...full, ima: { count: 1, pcr10: { sha256: '22'.repeat(20) } } } })],
  ['uppercase hex', JSON.stringify({ v: 1, state: { ...full, bootPcrsDigest: 'AB'.repeat(32) } })],
  ['a non-string cmdline', JSON.stringify({ v: 1, state: { ...full, kernelCmdlines: [1] } })],
  ['a fractional resetCount', JSON.stringify({ v: 1, state: { ...full, resetCount: 1.5 } })],
])('reads a corrupt state (%s) as absent and logs it', async (_name, text) => {
  const s = store();
  await redis.set(s.key('n'), text);
  warnings.length = 0;
  expect(await s.get('n')).toBeUndefined();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^corrupt node state ignored/);
});

it("keeps each node's state its own under concurrent, auto-pipelined gets and puts (a shard's rounds)", async () => {
  const s = store();
  const nodes = Array.from({ length: 50 }, (_, i) => `n${i}`);
  const stateOf = (i: number): RoundState => ({ ...full, akName: (i + 16).toString(16).repeat(32), ima: { ...full.ima, count: i } });
  await redis.set(s.key('corrupt'), '{"v":1,');
  warnings.length = 0;
  await Promise.all(nodes.map((n, i) => s.put(n, stateOf(i))));
  const [corrupt, ...read] = await Promise.all([s.get('corrupt'), ...nodes.map((n) => s.get(n))]);
  expect(corrupt).toBeUndefined();
  expect(warnings).toHaveLength(1);
  expect(read).toEqual(nodes.map((_, i) => stateOf(i)));
});
