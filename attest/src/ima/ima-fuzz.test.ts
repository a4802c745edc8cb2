import { ParseError } from '../binary/parse-error.js';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { createRuntimePolicy } from './create-runtime-policy.js';
import { encodeImaBufEntry, encodeImaNgEntry, encodeImaSigEntry, encodeImaTemplateEntry, encodeImaViolationEntry } from './encode-ima-entry.js';
import { parseImaSignature } from './ima-signature.js';
import { IMA_INITIAL_STATE } from './ima-state.js';
import { parseImaAsciiLog } from './parse-ima-ascii.js';
import { parseImaBinaryLog } from './parse-ima-binary.js';
import { parseRuntimePolicy, RuntimePolicyError } from './runtime-policy.js';
import { ImaVerificationKeys, SignatureBudget } from './verification-keys.js';
import { verifyImaEntries } from './verify-ima-entries.js';
import { seededRandom as prng } from '../../../e2e/src/sim/seeded-random.js';


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
/** An RSA-2048 public key (SPKI) and evmctl's signature (`evmctl sign_hash -a sha256`) of d('l') with it. */
const RSA_SPKI = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAupWRjnlHZ18yvm5XO2iEhAoHamI0LFbAmlt4PSL68RItYovy8HXHG0XdGEzfkvO+LKIMQ4H7Qa2bwq7UHcHudVP1NQrAjQPAgbe1DJH80L2VF0yzjM4E5100zc+OaykXeYriLdJ0oQJ+ACGnqmOni6GaIVtvb1c4uZVuBzpWkpXbmveFT0VVy+8run7bMpAZN1sGqQMSyMbiFH5dPLgMjy49/mouMe61d16t6ggclsHu3HmjrSZkXXD88Fn9uPe1YT+Ut8r4IDFdK1hYK4xCzVQDzGbDDIyq18F5hdwkU3NOwfQrbSJbl005LBDAB2nUGpXXXFjuQR8ChGKwK+QYWQIDAQAB';
const LS_SIG = Buffer.from('03020471a856eb010018b4af649ce85ce06c8bead39b14882c5e3db5a7b401fbdd6b9209280b86d2f951bebe550115e4841cc79c81ed287becc6e87024aceff410a65c5eaaf9ad47c29b6537327bfe13c71e79666475272b0e94f521a54ae88b0506314d41ed4057e70827eb07eb76a18dda5a60b61e7b3dc1f5506fcc0af2246a7754ff65d577967b2da0e77346c7dcf22b408244200b7def71a64b9ce84457780c392a92edfe715ca8faba3d31dc2e54bfd38edff7d7104f233daee78f7c75952a42ac7280a061ebf4ab3962590eba7642861082c48db90639ec02eba94ec216f1b4a9f4ee0e9a7da0bc332cad44a86dee6ee21d8b6e7dec6f384d5e8e00f4aec14372f6e18d3745', 'hex');
const VERIFICATION_KEYS = JSON.stringify({ keyids: [], pubkeys: [RSA_SPKI] });
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
