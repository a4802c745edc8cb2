import { createHash } from 'node:crypto';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { createRuntimePolicy } from './create-runtime-policy.js';
import { encodeImaBufEntry, encodeImaNgEntry, encodeImaTemplateEntry, encodeImaViolationEntry, type EncodedImaEntry } from '../testing/encode-ima-entry.js';
import { IMA_INITIAL_STATE, verifyImaPcr10 } from './ima-state.js';
import { parseImaBinaryLog } from './parse-ima-binary.js';
import { parseRuntimePolicy, type RuntimePolicy } from './runtime-policy.js';
import { digestNgField, lengthPrefixed } from './template-fields.js';
import { verifyImaEntries, verifyImaLog, verifyParsedImaEntries } from './verify-ima-entries.js';

const H = (alg: string, ...parts: Buffer[]): Buffer => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
};
const fd = (s: string): Buffer => H('sha256', Buffer.from(s));

/** PCR 10 computed by hand: violations extend 0xff…, others H(template data) per bank. */
function expectedPcr10(entries: EncodedImaEntry[], alg: 'sha1' | 'sha256', violations: Set<number> = new Set()): string {
  const size = alg === 'sha1' ? 20 : 32;
  let pcr: Buffer = Buffer.alloc(size);
  entries.forEach((e, i) => {
    const d = violations.has(i) ? Buffer.alloc(size, 0xff) : H(alg, e.hashInput);
    pcr = H(alg, pcr, d);
  });
  return pcr.toString('hex');
}

const known = [
  encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: fd('boot') }),
  encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: fd('bash') }),
  encodeImaTemplateEntry({ path: '/sbin/init', sha1Digest: H('sha1', Buffer.from('init')) }),
  encodeImaBufEntry({ name: '.ima', buf: Buffer.concat([Buffer.from([0x30, 0x82, 1, 0]), Buffer.alloc(16, 9)]) }),
  encodeImaBufEntry({ name: 'kexec-cmdline', buf: Buffer.from('ro quiet') }),
];
const log = Buffer.concat(known.map((e) => e.bytes));
const policy = createRuntimePolicy(parseImaBinaryLog(log));

function withPolicy(change: (p: RuntimePolicy) => void): RuntimePolicy {
  const p = parseRuntimePolicy(JSON.parse(JSON.stringify(policy)));
  change(p);
  return p;
}

describe('verifyImaEntries: replay', () => {
  it('replays both banks as computed by hand and passes a policy made from the same log', () => {
    const r = verifyImaLog(log, policy);
    expect(r.failures).toEqual([]);
    expect(r.state).toEqual({ count: 5, pcr10: { sha1: expectedPcr10(known, 'sha1'), sha256: expectedPcr10(known, 'sha256') } });
    expect(verifyImaPcr10(r.state, { bank: 'sha256', value: expectedPcr10(known, 'sha256').toUpperCase() })).toEqual([]);
    expect(verifyImaPcr10(r.state, { bank: 'sha1', value: '00'.repeat(20) })[0]!.id).toBe('ima.pcr_mismatch');
  });

  it('verifies incrementally to the same state as all at once, parsing only the new entries', () => {
    const first = verifyImaEntries(IMA_INITIAL_STATE, Buffer.concat(known.slice(0, 2).map((e) => e.bytes)), policy);
    const rest = verifyImaEntries(first.state, Buffer.concat(known.slice(2).map((e) => e.bytes)), policy);
    expect(first.state.count).toBe(2);
    expect(rest.state).toEqual(verifyImaLog(log, policy).state);
    // An empty batch changes nothing.
    expect(verifyImaEntries(rest.state, Buffer.alloc(0), policy)).toEqual({ failures: [], state: rest.state, uncoveredBytes: 0 });
  });

  it('extends all-ones for a violation, in both banks, and reports it unless ignored', () => {
    const entries = [known[1]!, encodeImaViolationEntry({ path: '/var/log/x' }), known[0]!];
    const bytes = Buffer.concat(entries.map((e) => e.bytes));
    const r = verifyImaLog(bytes, policy);
    expect(r.failures.map((f) => [f.id, f.context?.index])).toEqual([['ima.violation', 1]]);
    expect(r.state.pcr10.sha1).toBe(expectedPcr10(entries, 'sha1', new Set([1])));
    expect(r.state.pcr10.sha256).toBe(expectedPcr10(entries, 'sha256', new Set([1])));
    expect(verifyImaLog(bytes, policy, { violations: 'ignore' }).failures).toEqual([]);
  });

  it('replays a list whose template hash is sha256', () => {
    const entries = [encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: fd('bash') }, 'sha256')];
    const r = verifyImaLog(entries[0]!.bytes, withPolicy((p) => (p.ima.log_hash_alg = 'sha256')), { templateHashAlg: 'sha256' });
    expect(r.failures).toEqual([]);
    expect(r.state.pcr10.sha1).toBe(expectedPcr10(entries, 'sha1'));
  });

  describe('ima.log_hash_alg (Keylime: the template hash algorithm of the list)', () => {
    const items = [['boot_aggregate', fd('boot')], ['/usr/bin/bash', fd('bash')]] as const;
    const sha256List = items.map(([path, fileDigest]) => encodeImaNgEntry({ path, fileDigest }, 'sha256'));
    const bytes = Buffer.concat(sha256List.map((e) => e.bytes));
    const ascii = Buffer.from(sha256List.map((e, i) => `10 ${e.templateHash.toString('hex')} ima-ng sha256:${items[i]![1].toString('hex')} ${items[i]![0]}\n`).join(''));
    const silent = withPolicy((p) => delete p.ima.log_hash_alg);

    it.each([['binary', bytes], ['ASCII', ascii]])('a %s list with sha256 template hashes: read as such where the policy says so or is silent', (_f, list) => {
      for (const p of [silent, withPolicy((q) => (q.ima.log_hash_alg = 'sha256'))]) {
        const r = verifyImaLog(list, p);
        expect(r.failures).toEqual([]);
        expect(r.state).toEqual({ count: 2, pcr10: { sha1: expectedPcr10(sha256List, 'sha1'), sha256: expectedPcr10(sha256List, 'sha256') } });
      }
    });

    it.each([['binary', bytes], ['ASCII', ascii]])('a %s list with sha256 template hashes fails a policy whose log_hash_alg is sha1', (_f, list) => {
      const r = verifyImaLog(list, withPolicy((p) => (p.ima.log_hash_alg = 'sha1')));
      expect(r.failures).toEqual([expect.objectContaining({ id: 'ima.log_hash_alg_mismatch', context: { policy: 'sha1', list: 'sha256' } })]);
      expect(r.state).toBe(IMA_INITIAL_STATE);
    });

    it('already parsed entries: the policy is held to their template hash length', () => {
      const parsed = parseImaBinaryLog(bytes, { templateHashAlg: 'sha256' });
      expect(verifyParsedImaEntries(IMA_INITIAL_STATE, parsed, withPolicy((p) => (p.ima.log_hash_alg = 'sha1'))).failures.map((f) => f.id)).toEqual(['ima.log_hash_alg_mismatch']);
      expect(verifyParsedImaEntries(IMA_INITIAL_STATE, parsed, silent).failures).toEqual([]);
    });

    it('a sha1 list fails a policy whose log_hash_alg is sha256; a silent policy reads it as sha1', () => {
      expect(verifyImaLog(log, withPolicy((p) => (p.ima.log_hash_alg = 'sha256'))).failures.map((f) => f.id)).toEqual(['ima.log_hash_alg_mismatch']);
      expect(verifyImaLog(log, silent).failures).toEqual([]);
    });

    it('the logged sha256 template hash is checked when the sha256 bank is replayed', () => {
      const tampered = Buffer.from(bytes);
      tampered[4] = tampered[4]! ^ 1; // first byte of entry 0's template hash
      const r = verifyImaLog(tampered, silent, { banks: ['sha256'] });
      expect(r.failures.map((f) => [f.id, f.context?.index])).toEqual([['ima.template_hash_mismatch', 0]]);
    });
  });

  it('reports a template hash that does not match the data', () => {
    const bytes = Buffer.from(known[1]!.bytes);
    bytes[4] = bytes[4]! ^ 1; // first byte of the template hash
    const r = verifyImaLog(bytes, policy);
    expect(r.failures.map((f) => [f.id, f.context?.index, f.context?.path])).toEqual([['ima.template_hash_mismatch', 0, '/usr/bin/bash']]);
    // The banks are extended with what the data hashes to, as the kernel did.
    expect(r.state.pcr10.sha256).toBe(expectedPcr10([known[1]!], 'sha256'));
  });

  it('reports an entry measured into another PCR without replaying it', () => {
    const r = verifyImaLog(encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: fd('bash'), pcr: 11 }).bytes, policy);
    expect(r.failures.map((f) => f.id)).toEqual(['ima.unexpected_pcr']);
    expect(r.state.pcr10).toEqual(IMA_INITIAL_STATE.pcr10);
  });

  it('reports malformed bytes as a failure and keeps the state', () => {
    const r = verifyImaEntries(IMA_INITIAL_STATE, Buffer.concat([log, Buffer.from([10, 0, 0])]), policy);
    expect(r.failures.map((f) => f.id)).toEqual(['ima.malformed_log']);
    expect(r.state).toBe(IMA_INITIAL_STATE);
  });

  it('stops at the prefix matching the quoted PCR 10 when the log runs ahead of the quote', () => {
    const quoted = { bank: 'sha256' as const, value: expectedPcr10(known.slice(0, 3), 'sha256') };
    const r = verifyImaLog(log, policy, { quotedPcr10: quoted, banks: ['sha1', 'sha256'] });
    expect(r.failures).toEqual([]);
    expect(r.state.count).toBe(3);
    const next = verifyImaEntries(r.state, Buffer.concat(known.slice(3).map((e) => e.bytes)), policy,
      { quotedPcr10: { bank: 'sha1', value: expectedPcr10(known, 'sha1') }, banks: ['sha1', 'sha256'] });
    expect(next).toEqual({ failures: [], state: verifyImaLog(log, policy).state, uncoveredBytes: 0 });
    const bad = verifyImaLog(log, policy, { quotedPcr10: { bank: 'sha1', value: 'ff'.repeat(20) } });
    expect(bad.failures.map((f) => f.id)).toEqual(['ima.pcr_mismatch']);
    expect(bad.state).toBe(IMA_INITIAL_STATE);
  });

  it('replays only the quoted bank by default, and will not continue a state in a bank it lacks', () => {
    const quoted = { bank: 'sha256' as const, value: expectedPcr10(known.slice(0, 3), 'sha256') };
    const r = verifyImaLog(log, policy, { quotedPcr10: quoted });
    expect(r).toEqual({ failures: [], state: { count: 3, pcr10: { sha256: quoted.value } }, uncoveredBytes: log.length - known.slice(0, 3).reduce((n, e) => n + e.bytes.length, 0) });
    const rest = Buffer.concat(known.slice(3).map((e) => e.bytes));
    expect(verifyImaEntries(r.state, rest, policy).state).toEqual({ count: 5, pcr10: { sha256: expectedPcr10(known, 'sha256') } });
    const other = verifyImaEntries(r.state, rest, policy, { quotedPcr10: { bank: 'sha1', value: expectedPcr10(known, 'sha1') } });
    expect(other.failures.map((f) => f.id)).toEqual(['ima.bank_not_replayed']);
    expect(other.state).toBe(r.state);
    expect(verifyImaPcr10(r.state, { bank: 'sha1', value: expectedPcr10(known.slice(0, 3), 'sha1') })[0]!.id).toBe('ima.bank_not_replayed');
    expect(verifyImaLog(log, policy, { banks: [] }).failures.map((f) => f.id)).toEqual(['ima.bank_not_replayed']);
  });

  it('checks the logged template hash when its bank is replayed; otherwise the replayed bank binds the data', () => {
    const tampered = Buffer.from(log);
    const at = known[0]!.bytes.length + 4; // entry 1's sha1 template hash, data untouched
    tampered[at] = tampered[at]! ^ 1;
    const sha1 = verifyImaLog(tampered, policy, { banks: ['sha1'] });
    expect(sha1.failures.map((f) => f.id)).toEqual(['ima.template_hash_mismatch']);
    const sha256Only = verifyImaLog(tampered, policy, { quotedPcr10: { bank: 'sha256', value: expectedPcr10(known, 'sha256') } });
    expect(sha256Only.failures).toEqual([]);
    const data = Buffer.from(log);
    const inPath = known[0]!.bytes.length + known[1]!.bytes.length - 3; // inside entry 1's path
    data[inPath] = data[inPath]! ^ 1;
    const bound = verifyImaLog(data, policy, { quotedPcr10: { bank: 'sha256', value: expectedPcr10(known, 'sha256') } });
    expect(bound.failures.map((f) => f.id)).toContain('ima.pcr_mismatch');
  });

  it('accepts parsed entries and a compiled policy', () => {
    const r = verifyParsedImaEntries(IMA_INITIAL_STATE, parseImaBinaryLog(log), compileRuntimePolicy(parseRuntimePolicy(policy)));
    expect(r).toEqual(verifyImaLog(log, policy));
  });
});

describe('verifyImaEntries: runtime policy', () => {
  const bash = (digest: string): Buffer => encodeImaNgEntry({ path: '/usr/bin/bash', fileDigest: fd(digest) }).bytes;
  const key = (name: string): Buffer => encodeImaBufEntry({ name, buf: Buffer.concat([Buffer.from([0x30, 0x82, 1, 0]), Buffer.alloc(8, 2)]) }).bytes;
  it.each<[string, Buffer, (p: RuntimePolicy) => void, string[]]>([
    ['an allowed digest', bash('bash'), () => {}, []],
    ['a wrong digest', bash('evil'), () => {}, ['ima.digest_not_allowed']],
    ['a second allowed digest', bash('bash2'), (p) => p.digests['/usr/bin/bash']!.push(fd('bash2').toString('hex')), []],
    ['an unknown path', encodeImaNgEntry({ path: '/opt/x', fileDigest: fd('x') }).bytes, () => {}, ['ima.path_not_in_policy']],
    ['an excluded path', encodeImaNgEntry({ path: '/tmp/x', fileDigest: fd('x') }).bytes, (p) => p.excludes.push('/tmp/.*'), []],
    ['an exclude that matches later in the path only', encodeImaNgEntry({ path: '/var/tmp/x', fileDigest: fd('x') }).bytes,
      (p) => p.excludes.push('/tmp/'), ['ima.path_not_in_policy']],
    ['a wrong digest on an excluded path', bash('evil'), (p) => p.excludes.push('/usr/bin/'), []],
    ['an allowed key', known[3]!.bytes, () => {}, []],
    ['an unknown key', key('.ima'), () => {}, ['ima.keyring_digest_not_allowed']],
    ['an unknown key in an ignored keyring', key('.ima'), (p) => p.ima.ignored_keyrings.push('.ima'), []],
    ['any key with all keyrings ignored', key('.platform'), (p) => p.ima.ignored_keyrings.push('*'), []],
    ['a key into a keyring absent from the policy', key('.platform'), () => {}, ['ima.keyring_not_in_policy']],
    ['an allowed ima-buf', known[4]!.bytes, () => {}, []],
    ['a wrong ima-buf', encodeImaBufEntry({ name: 'kexec-cmdline', buf: Buffer.from('init=/bin/sh') }).bytes, () => {}, ['ima.buf_digest_not_allowed']],
    ['an unknown ima-buf', encodeImaBufEntry({ name: 'dm_table_load', buf: Buffer.from('x') }).bytes, () => {}, ['ima.buf_not_in_policy']],
  ])('%s', (_t, bytes, change, ids) => {
    const r = verifyImaLog(bytes, withPolicy(change));
    expect(r.failures.map((f) => f.id)).toEqual(ids);
    for (const f of r.failures) expect(f.context).toMatchObject({ index: 0 });
  });

  it('accepts a boot_aggregate computed by the verifier', () => {
    const entry = encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: fd('other boot') }).bytes;
    expect(verifyImaLog(entry, policy).failures.map((f) => f.id)).toEqual(['ima.digest_not_allowed']);
    expect(verifyImaLog(entry, policy, { bootAggregates: [fd('other boot').toString('hex')] }).failures).toEqual([]);
  });

  it('lists every offending entry with its index and path', () => {
    const bytes = Buffer.concat([bash('bash'), bash('evil'), encodeImaNgEntry({ path: '/x', fileDigest: fd('x') }).bytes]);
    expect(verifyImaLog(bytes, policy).failures.map((f) => [f.id, f.context?.index, f.context?.path])).toEqual([
      ['ima.digest_not_allowed', 1, '/usr/bin/bash'],
      ['ima.path_not_in_policy', 2, '/x'],
    ]);
  });
});

describe('verifyImaEntries: paths looked up by their bytes give the verdicts of a lookup by name', () => {
  const u32 = (n: number): Buffer => Buffer.from(Uint32Array.of(n).buffer);
  /** One ima-ng entry whose path is these bytes (UTF-8 or not), as a binary and as an ASCII list. */
  function entryWithPathBytes(path: Buffer, digest: Buffer): { binary: Buffer; ascii: Buffer } {
    const data = Buffer.concat([digestNgField('sha256', digest), lengthPrefixed(Buffer.concat([path, Buffer.alloc(1)]))]);
    const hash = H('sha1', data);
    const name = Buffer.from('ima-ng');
    return {
      binary: Buffer.concat([u32(10), hash, u32(name.length), name, u32(data.length), data]),
      ascii: Buffer.concat([Buffer.from(`10 ${hash.toString('hex')} ima-ng sha256:${digest.toString('hex')} `), path, Buffer.from('\n')]),
    };
  }
  const listing = (path: string, digest: string, excludes: string[] = []): RuntimePolicy =>
    withPolicy((p) => {
      p.digests[path] = [fd(digest).toString('hex')];
      p.excludes.push(...excludes);
    });

  it.each<[string, Buffer, string, RuntimePolicy, string[]]>([
    ['bytes that are not UTF-8, listed as the name they decode to', Buffer.from('/opt/\xff', 'latin1'), 'x', listing('/opt/\ufffd', 'x'), []],
    ['the same, with a digest not listed', Buffer.from('/opt/\xff', 'latin1'), 'evil', listing('/opt/\ufffd', 'x'), ['ima.digest_not_allowed']],
    // Encoding a lone surrogate gives the bytes of U+FFFD, but that path decodes to U+FFFD, not to the listed one.
    ['U+FFFD against a listed lone surrogate', Buffer.from('/opt/\ufffd'), 'x', listing('/opt/\ud800', 'x'), ['ima.path_not_in_policy']],
    ['a path with a character outside the BMP', Buffer.from('/opt/\u{1f600}'), 'x', listing('/opt/\u{1f600}', 'x'), []],
    ['a listed path with its digest under an exclude', Buffer.from('/tmp/x'), 'x', listing('/tmp/x', 'x', ['/tmp/']), []],
    ['a listed path with another digest under an exclude', Buffer.from('/tmp/x'), 'evil', listing('/tmp/x', 'x', ['/tmp/']), []],
    ['a listed path with another digest, not excluded', Buffer.from('/tmp/x'), 'evil', listing('/tmp/x', 'x', ['/var/']), ['ima.digest_not_allowed']],
  ])('%s', (_what, path, digest, p, ids) => {
    const e = entryWithPathBytes(path, fd(digest));
    for (const bytes of [e.binary, e.ascii]) {
      const r = verifyImaLog(bytes, p);
      expect(r.failures.map((f) => f.id)).toEqual(ids);
      for (const f of r.failures) expect(f.context?.path).toBe(path.toString('utf8'));
    }
  });
});

describe('createRuntimePolicy', () => {
  it('lists every path with its digests, keys per keyring, buffers per name; leaves violations out', () => {
    const p = createRuntimePolicy(parseImaBinaryLog(Buffer.concat([log, encodeImaViolationEntry({ path: '/var/log/x' }).bytes, known[1]!.bytes])));
    expect(Object.keys(p.digests)).toEqual(['boot_aggregate', '/usr/bin/bash', '/sbin/init']);
    expect(p.digests['/usr/bin/bash']).toEqual([fd('bash').toString('hex')]);
    expect(Object.keys(p.keyrings)).toEqual(['.ima']);
    expect(Object.keys(p['ima-buf'])).toEqual(['kexec-cmdline']);
    expect(parseRuntimePolicy(JSON.stringify(p))).toEqual(p);
  });
});
