import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { compileRuntimePolicy, parseRuntimePolicy, runtimePolicyConfigMaps, type CompiledRuntimePolicy, type RuntimePolicy } from '@nodeward/attest';
import { runtimePolicySource } from '@nodeward/operator';
import type { ConfigMapView } from '@nodeward/operator';
import { median, once } from './timing.js';

/**
 * A Keylime runtime policy of real size (keylime#1167: tens of thousands of files, tens of MB) through
 * the operator's path: the ConfigMaps `nodeward ima policy pack` writes, joined and decompressed by
 * runtimePolicySource (as the round context reads them from the informer cache), then parsed and
 * compiled. Memory is the heap and RSS growth while the compiled policy is held (one process, so
 * rough: the collector runs when it likes).
 */
const ENTRIES = 200_000;
setFlagsFromString('--expose-gc');
/** The collector, to measure what the compiled policy holds rather than garbage. */
const gc = runInNewContext('gc') as () => void;
const REPEATS = 3;
const MiB = 1024 * 1024;

function policyText(): string {
  const digests: Record<string, string[]> = {};
  for (let i = 0; i < ENTRIES; i++) digests[`/usr/lib64/pkg-${i % 997}/lib${i}.so.${i % 7}`] = [createHash('sha256').update(`file ${i}`).digest('hex')];
  return JSON.stringify({ meta: { version: 1, generator: 0 }, release: 0, digests, excludes: [], keyrings: {}, ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null }, 'ima-buf': {}, 'verification-keys': '' });
}

export function policySizeBench(): Promise<string> {
  const text = policyText();
  let gzip = Buffer.alloc(0);
  const packSeconds = once(() => {
    gzip = gzipSync(Buffer.from(text, 'utf8'), { level: 9 });
  });
  const maps = runtimePolicyConfigMaps(gzip, { name: 'rp', namespace: 'ns', key: 'runtime-policy.json' });
  const byName = new Map<string, ConfigMapView>(maps.map((m, i) => [m.metadata.name, { ...m, metadata: { ...m.metadata, resourceVersion: String(i + 1) } }]));
  const ref = { configMapRef: { name: 'rp', namespace: 'ns' }, key: 'runtime-policy.json' };
  const read = (): string => {
    const s = runtimePolicySource((_ns, name) => byName.get(name), ref);
    if (!s.ok) throw new Error(s.reason);
    return s.read();
  };
  const joinS: number[] = [];
  const parseS: number[] = [];
  const compileS: number[] = [];
  let compiled: CompiledRuntimePolicy | undefined;
  for (let r = 0; r < REPEATS; r++) {
    let doc = '';
    let parsed: RuntimePolicy | undefined;
    joinS.push(once(() => (doc = read())));
    parseS.push(once(() => (parsed = parseRuntimePolicy(doc))));
    compileS.push(once(() => (compiled = compileRuntimePolicy(parsed!))));
  }
  compiled = undefined;
  gc();
  const before = process.memoryUsage();
  const held = compileRuntimePolicy(parseRuntimePolicy(read()));
  const peak = process.memoryUsage();
  gc();
  const after = process.memoryUsage();
  if (held.digests.size !== ENTRIES || compiled !== undefined) throw new Error('policy not compiled whole');
  const total = median(joinS) + median(parseS) + median(compileS);
  return Promise.resolve([
    `| ${ENTRIES.toLocaleString('en')}-file runtime policy (sha256 digests) | figure |`,
    '| --- | --- |',
    `| JSON document | ${(text.length / MiB).toFixed(1)} MiB |`,
    `| gzip -9 (\`ima policy pack\`) | ${(gzip.length / MiB).toFixed(1)} MiB in ${maps.length} ConfigMaps, ${packSeconds.toFixed(2)} s |`,
    `| operator: join the parts, check SHA-256, gunzip (runtimePolicySource.read) | ${median(joinS).toFixed(3)} s |`,
    `| operator: parseRuntimePolicy | ${median(parseS).toFixed(3)} s |`,
    `| operator: compileRuntimePolicy | ${median(compileS).toFixed(3)} s |`,
    `| operator: total, once per policy version | ${total.toFixed(2)} s |`,
    `| heap held by the compiled policy (heapUsed growth) | ${((after.heapUsed - before.heapUsed) / MiB).toFixed(0)} MiB |`,
    `| heap growth at the end of the compile, before collecting | ${((peak.heapUsed - before.heapUsed) / MiB).toFixed(0)} MiB |`,
    '',
    `Medians of ${REPEATS} passes. The informer also caches the ConfigMaps' base64 (${((gzip.length * 4) / 3 / MiB).toFixed(1)} MiB of strings).`,
  ].join('\n'));
}
