import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  compileRuntimePolicy, detectImaLogFormat, plausibleTemplateHashAlgs, parseImaLog, parseRuntimePolicy, verifyRound, type ImaBank, type ImaEntry,
} from '@nodeward/attest';
import { encodeImaNgEntry, encodeImaViolationEntry } from '@nodeward/attest/testing';
import { createSoftAk, softQuote } from '../../../e2e/src/sim/soft-tpm.js';
import type { NodeAttestationPolicy } from '../../../operator/src/status/resources.js';
import { roundPolicyFromSpec } from '../../../operator/src/reconcile/round-context.js';
import { CliUsageError, type CliIo } from '../cli-io.js';
import { runCli } from '../run-cli.js';

/**
 * One verdict: `nodeward ima verify --pcr10` and the operator's round (the RoundPolicy it builds
 * from a NodeAttestationPolicy, verifyRound over a quote of that PCR 10) on the same corpus: real
 * entries and policies from Keylime's test suite (attest/src/ima/testdata/PROVENANCE.md), and lists
 * built from them. Both must name the same failures, trust the same cases and cover the same entries.
 */
const testdata = (name: string): Buffer => readFileSync(new URL(`../../../attest/src/ima/testdata/${name}`, import.meta.url));
const spki = (pem: string): string => createPublicKey(testdata(pem)).export({ type: 'spki', format: 'der' }).toString('base64');

const measurements = testdata('keylime-measurements.ascii');
const signatures = testdata('keylime-signatures.ascii');
const keylimePolicy = JSON.parse(testdata('keylime-runtime-policy-test.json').toString('utf8')) as Record<string, unknown> & { digests: Record<string, string[]> };
const measured = parseImaLog(measurements);
const withKeys = {
  meta: { version: 1 },
  digests: Object.fromEntries(measured.map((e) => [e.name, [e.digest.toString('hex')]])),
  'verification-keys': JSON.stringify({ pubkeys: [spki('keylime-rsa2048pub.pem'), spki('keylime-secp256k1pub.pem')] }),
};

/** The same entries with sha256 template hashes (as the kernel's ascii_runtime_measurements_sha256 has them). */
const asSha256List = (entries: readonly ImaEntry[]): Buffer => Buffer.from(entries.map((e) =>
  `10 ${createHash('sha256').update(e.hashInput).digest('hex')} ${e.template} ${e.digestAlg}:${e.digest.toString('hex')} ${e.name}${e.template === 'ima-sig' ? ` ${e.sig?.toString('hex') ?? ''}` : ''}\n`).join(''));
const violated = Buffer.concat([encodeImaNgEntry({ path: '/usr/bin/a', fileDigest: createHash('sha256').update('a').digest() }).bytes,
  encodeImaViolationEntry({ path: '/var/log/open-writer' }).bytes]);
const violatedPolicy = { meta: { version: 1 }, digests: { '/usr/bin/a': [createHash('sha256').update('a').digest('hex')] } };

const parseAny = (list: Buffer): ImaEntry[] => parseImaLog(list, { templateHashAlg: plausibleTemplateHashAlgs(list, detectImaLogFormat(list))[0] });

/** PCR 10 after the first `n` entries of a list, in `bank` (violations extend all-ones). */
function replay(list: Buffer, bank: ImaBank, n?: number): Buffer {
  const entries = parseAny(list);
  const size = bank === 'sha1' ? 20 : 32;
  return entries.slice(0, n ?? entries.length).reduce((pcr, e) => {
    const d = e.templateHash.every((b) => b === 0) ? Buffer.alloc(size, 0xff) : createHash(bank).update(e.hashInput).digest();
    return createHash(bank).update(pcr).update(d).digest();
  }, Buffer.alloc(size));
}

interface Case {
  readonly list: Buffer;
  readonly policy: unknown;
  readonly bank: ImaBank;
  /** The quoted PCR 10: the replay of this many entries (default all), or this value. */
  readonly quotedAfter?: number;
  readonly quoted?: Buffer;
  readonly tolerateViolations?: boolean;
  readonly failures: readonly string[];
  readonly covered?: number;
}

const cases: Record<string, Case> = {
  'Keylime MEASUREMENTS, Keylime policy, sha1 quote': { list: measurements, policy: keylimePolicy, bank: 'sha1', failures: [], covered: 3 },
  'Keylime MEASUREMENTS, sha256 quote': { list: measurements, policy: keylimePolicy, bank: 'sha256', failures: [], covered: 3 },
  'list read after the quote: the quote covers 2 of 3 entries': { list: measurements, policy: keylimePolicy, bank: 'sha256', quotedAfter: 2, failures: [], covered: 2 },
  'list read after the quote, sha1 bank: 1 of 3': { list: measurements, policy: keylimePolicy, bank: 'sha1', quotedAfter: 1, failures: [], covered: 1 },
  'a quote no prefix replays to': { list: measurements, policy: keylimePolicy, bank: 'sha256', quoted: randomBytes(32), failures: ['ima.pcr_mismatch'] },
  'a file missing from the policy': { list: measurements, policy: { ...keylimePolicy, digests: { ...keylimePolicy.digests, '/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko': ['00'.repeat(32)] } }, bank: 'sha256', failures: ['ima.digest_not_allowed'] },
  'Keylime SIGNATURES, rsa2048 + secp256k1 keys: the secp256k1-signed file is held to digests': { list: signatures, policy: withKeys, bank: 'sha256', failures: ['ima.path_not_in_policy'] },
  'Keylime SIGNATURES with the Keylime policy listing both files': { list: signatures, policy: keylimePolicy, bank: 'sha256', failures: [], covered: 2 },
  'sha256 template hashes, policy silent: read from the list': { list: asSha256List(measured), policy: { ...keylimePolicy, ima: undefined }, bank: 'sha256', failures: [], covered: 3 },
  'sha256 template hashes, policy log_hash_alg sha256': { list: asSha256List(measured), policy: { ...keylimePolicy, ima: { log_hash_alg: 'sha256' } }, bank: 'sha256', failures: [], covered: 3 },
  'sha256 template hashes, policy log_hash_alg sha1': { list: asSha256List(measured), policy: { ...keylimePolicy, ima: { log_hash_alg: 'sha1' } }, bank: 'sha256', failures: ['ima.log_hash_alg_mismatch'] },
  'a violation, default': { list: violated, policy: violatedPolicy, bank: 'sha256', failures: ['ima.violation'] },
  'a violation, tolerated': { list: violated, policy: violatedPolicy, bank: 'sha256', tolerateViolations: true, failures: [], covered: 2 },
};

function memoryIo(files: Record<string, Buffer>): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: () => undefined,
    readFile: (p) => files[p] ?? (() => { throw new CliUsageError(`cannot read ${p}`); })() };
}

async function cliVerdict(c: Case, quoted: Buffer): Promise<{ trusted: boolean; failures: string[]; covered: number }> {
  const io = memoryIo({ list: c.list, 'policy.json': Buffer.from(JSON.stringify(c.policy)) });
  const args = ['ima', 'verify', '--log', 'list', '--policy', 'policy.json', '--pcr10', quoted.toString('hex'), '--bank', c.bank, '--json'];
  const code = await runCli([...args, ...(c.tolerateViolations === true ? ['--ignore-violations'] : [])], io);
  const out = JSON.parse(io.lines.join('\n')) as { failures: { id: string }[]; state: { count: number } };
  return { trusted: code === 0, failures: out.failures.map((f) => f.id), covered: out.state.count };
}

const ak = createSoftAk('ecdsa');

function operatorVerdict(c: Case, quoted: Buffer): { trusted: boolean; failures: string[]; covered: number } {
  const spec: NodeAttestationPolicy['spec'] = {
    nodeSelector: {}, interval: '10s', tpm: { hashAlg: c.bank, pcrs: [10] },
    ima: { runtimePolicy: { configMapRef: { name: 'rp', namespace: 'ns' }, key: 'policy.json' }, ...(c.tolerateViolations === true ? { tolerateViolations: true } : {}) },
  };
  const policy = roundPolicyFromSpec(spec, ak.publicArea, compileRuntimePolicy(parseRuntimePolicy(JSON.stringify(c.policy))));
  const nonce = randomBytes(32);
  const pcrs = { [c.bank]: { '10': quoted } };
  const total = parseAny(c.list).length;
  const v = verifyRound({ nonce, quote: { ...softQuote(ak, nonce, pcrs), pcrs }, ima: { from: 0, total, entries: c.list } }, policy, undefined);
  return { trusted: v.trusted, failures: v.failures.map((f) => f.id), covered: v.nextState.ima.count };
}

describe('one verdict: nodeward ima verify --pcr10 and the operator round on the same evidence', () => {
  it.each(Object.entries(cases))('%s', async (_name, c) => {
    const quoted = c.quoted ?? replay(c.list, c.bank, c.quotedAfter);
    const cli = await cliVerdict(c, quoted);
    const operator = operatorVerdict(c, quoted);
    expect(cli.failures).toEqual(c.failures);
    expect(operator.failures).toEqual(c.failures);
    expect(cli.trusted).toBe(c.failures.length === 0);
    expect(operator.trusted).toBe(cli.trusted);
    if (c.covered !== undefined) {
      expect(cli.covered).toBe(c.covered);
      expect(operator.covered).toBe(c.covered);
    }
  });

  it('prints what the quote does not cover yet', async () => {
    const io = memoryIo({ list: measurements, 'policy.json': Buffer.from(JSON.stringify(keylimePolicy)) });
    expect(await runCli(['ima', 'verify', '--log', 'list', '--policy', 'policy.json', '--pcr10', replay(measurements, 'sha256', 2).toString('hex')], io)).toBe(0);
    expect(io.lines).toEqual([expect.stringMatching(/^verified: 2 entries; PCR 10 sha256 [0-9a-f]{64}$/), 'not yet covered: 1 entries after the quoted PCR 10 (a later quote covers them)']);
  });
});
