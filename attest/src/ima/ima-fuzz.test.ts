import { ParseError } from '../binary/parse-error.js';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { createRuntimePolicy } from './create-runtime-policy.js';
import { encodeImaBufEntry, encodeImaNgEntry, encodeImaSigEntry, encodeImaTemplateEntry, encodeImaViolationEntry } from '../testing/encode-ima-entry.js';
import { EVMCTL_RSA_SPKI, LS_SIG } from '../testing/evmctl-fixture.js';
import { parseImaSignature } from './ima-signature.js';
import { IMA_INITIAL_STATE } from './ima-state.js';
import { parseImaAsciiLog } from './parse-ima-ascii.js';
import { parseImaBinaryLog } from './parse-ima-binary.js';
import { parseRuntimePolicy, RuntimePolicyError } from './runtime-policy.js';
import { ImaVerificationKeys, SignatureBudget } from './verification-keys.js';
import { verifyImaEntries } from './verify-ima-entries.js';
import { seededRandom as prng } from '../testing/seeded-random.js';


const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x0a, 0x3a];

/** One to four mutations: bit flips, interesting bytes, huge u32s, insertions, deletions, truncation. */
function mutate(seed: Buffer, rnd: () => number): Buffer {
  let b: Buffer = Buffer.from(seed);
  const at = (): number => Math.floor(rnd() * Math.max(1, b.length));
  const splice = (i: number, del: number, ins: number[]): Buffer =>
    Buffer.concat([b.subarray(0, i), Buffer.from(ins), b.subarray(Math.min(b.length, i + del))]);
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const op = Math.floor(rnd() * 6);
    const i = at();
    if (b.length === 0) b = Buffer.from([Math.floor(rnd() * 256)]);
    else if (op === 0) b[i] = b[i]! ^ (1 << Math.floor(rnd() * 8));
    else if (op === 1) b[i] = INTERESTING[Math.floor(rnd() * INTERESTING.length)]!;
    else if (op === 2) b = splice(i, 4, [0xff, 0xff, 0xff, Math.floor(rnd() * 256)]);
    else if (op === 3) b = splice(i, 0, [Math.floor(rnd() * 256)]);
    else if (op === 4) b = splice(i, 1 + Math.floor(rnd() * 8), []);
    else b = b.subarray(0, i);
  }
  return b;
}

const RUNS = 100_000;

function fuzz(seed: Buffer, seedNo: number, run: (input: Buffer) => void, allowed: (e: unknown) => boolean): number {
  const rnd = prng(seedNo);
  let rejected = 0;
  for (let i = 0; i < RUNS; i++) {
    const input = mutate(seed, rnd);
    try {
      run(input);
    } catch (e) {
      if (!allowed(e)) throw new Error(`run ${i} (seed ${seedNo}) escaped ${String(e)} on ${input.toString('hex')}`);
      rejected++;
    }
  }
  return rejected;
}

const d = (s: string): Buffer => Buffer.alloc(32, s.charCodeAt(0));
const VERIFICATION_KEYS = JSON.stringify({ keyids: [], pubkeys: [EVMCTL_RSA_SPKI] });
const entries = [
  encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: d('b') }),
  encodeImaSigEntry({ path: '/bin/ls', fileDigest: d('l'), sig: LS_SIG }),
  encodeImaBufEntry({ name: '.ima', buf: Buffer.from('3082000a0102', 'hex') }),
  encodeImaTemplateEntry({ path: '/init', sha1Digest: Buffer.alloc(20, 1) }),
  encodeImaViolationEntry({ path: '/var/log/x' }),
];
const binary = Buffer.concat(entries.map((e) => e.bytes));
const logged = createRuntimePolicy(parseImaBinaryLog(binary));
/** /bin/ls is not listed: its signature is what lets it pass. */
const policy = { ...logged, digests: Object.fromEntries(Object.entries(logged.digests).filter(([path]) => path !== '/bin/ls')), 'verification-keys': VERIFICATION_KEYS };

describe('fuzzing: only the typed errors escape, and every run terminates', () => {
  // Most runs throw; capturing 10 stack frames each would be most of the cost.
  const limit = Error.stackTraceLimit;
  beforeAll(() => {
    Error.stackTraceLimit = 0;
  });
  afterAll(() => {
    Error.stackTraceLimit = limit;
  });

  it(`binary list: ${RUNS} mutations, and verification of every tenth never throws`, () => {
    // Only the logged violation fails: /bin/ls passes on its signature.
    expect(verifyImaEntries(IMA_INITIAL_STATE, binary, policy, { format: 'binary' }).failures.map((f) => f.id)).toEqual(['ima.violation']);
    let i = 0;
    const rejected = fuzz(binary, 1, (input) => {
      if (i++ % 10 === 0) verifyImaEntries(IMA_INITIAL_STATE, input, policy, { format: 'binary' });
      parseImaBinaryLog(input);
    }, (e) => e instanceof ParseError);
    expect(rejected).toBeGreaterThan(RUNS / 2); // the mutations do reach the error paths
  });

  it(`ASCII list: ${RUNS} mutations`, () => {
    const text = Buffer.from([
      `10 ${entries[0]!.templateHash.toString('hex')} ima-ng sha256:${d('b').toString('hex')} boot_aggregate`,
      `10 ${entries[1]!.templateHash.toString('hex')} ima-sig sha256:${d('l').toString('hex')} /bin/ls 030204aabb`,
      `10 ${entries[2]!.templateHash.toString('hex')} ima-buf sha256:${'ab'.repeat(32)} .ima 3082000a0102`,
      `10 ${entries[3]!.templateHash.toString('hex')} ima ${'01'.repeat(20)} /init`,
      '',
    ].join('\n'));
    expect(parseImaAsciiLog(text)).toHaveLength(4);
    const rejected = fuzz(text, 2, (input) => void parseImaAsciiLog(input), (e) => e instanceof ParseError);
    expect(rejected).toBeGreaterThan(RUNS / 4);
  });

  it(`IMA signature (a real evmctl one): ${RUNS} mutations parse to a signature or a reason, every tenth checked`, () => {
    const keys = ImaVerificationKeys.parse(VERIFICATION_KEYS);
    expect(keys.check(LS_SIG, 'sha256', d('l'), new SignatureBudget())).toBe('verified');
    let i = 0;
    let reasons = 0;
    fuzz(LS_SIG, 4, (input) => {
      if (typeof parseImaSignature(input) === 'string') reasons++;
      // RSA PKCS#1 v1.5 is deterministic: only the signature itself verifies.
      if (i++ % 10 === 0 && keys.check(input, 'sha256', d('l'), new SignatureBudget()) === 'verified') expect(input.equals(LS_SIG)).toBe(true);
    }, () => false);
    expect(reasons).toBeGreaterThan(RUNS / 2);
  });

  it(`verification-keys: ${RUNS} mutations compile or raise RuntimePolicyError`, () => {
    const base = { ...policy, excludes: [] };
    const rejected = fuzz(Buffer.from(VERIFICATION_KEYS), 5, (input) => void compileRuntimePolicy({ ...base, 'verification-keys': input.toString('utf8') }),
      (e) => e instanceof RuntimePolicyError);
    expect(rejected).toBeGreaterThan(RUNS / 2);
  });

  it(`runtime policy JSON: ${RUNS} mutations`, () => {
    const json = Buffer.from(JSON.stringify({ ...policy, excludes: ['/tmp/.*', '(?P<x>/opt)'] }));
    expect(() => parseRuntimePolicy(json.toString())).not.toThrow();
    const rejected = fuzz(json, 3, (input) => void parseRuntimePolicy(input.toString('utf8')), (e) => e instanceof RuntimePolicyError);
    expect(rejected).toBeGreaterThan(RUNS / 2);
  });
});
