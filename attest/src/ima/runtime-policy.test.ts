import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileExcludes, translateExclude } from './exclude-matcher.js';
import { parseRuntimePolicy, RuntimePolicyError } from './runtime-policy.js';

const D1 = 'ab'.repeat(32);
const full = {
  meta: { version: 1, generator: 0, timestamp: '2024-01-01' },
  release: 0,
  digests: { '/usr/bin/bash': [D1.toUpperCase()], __proto__x: [] },
  excludes: ['/tmp/.*'],
  keyrings: { '.ima': ['cd'.repeat(20)] },
  ima: { ignored_keyrings: ['.builtin_trusted_keys'], log_hash_alg: 'sha256', dm_policy: null },
  'ima-buf': { 'kexec-cmdline': ['ef'.repeat(32)] },
  'verification-keys': '',
};

describe('parseRuntimePolicy', () => {
  it('reads a Keylime 7 policy, from text or value, lowercasing digests', () => {
    const p = parseRuntimePolicy(JSON.stringify(full));
    expect(p.digests['/usr/bin/bash']).toEqual([D1]);
    expect(p.ima).toEqual({ ignored_keyrings: ['.builtin_trusted_keys'], log_hash_alg: 'sha256', dm_policy: null });
    expect(parseRuntimePolicy(full)).toEqual(p);
  });

  it('fills in the optional sections', () => {
    expect(parseRuntimePolicy('{"meta":{"version":1}}')).toEqual({
      meta: { version: 1 }, release: 0, digests: {}, excludes: [], keyrings: {},
      ima: { ignored_keyrings: [], dm_policy: null }, 'ima-buf': {}, 'verification-keys': '',
    });
  });

  it('keeps a __proto__ path as a plain key', () => {
    const p = parseRuntimePolicy('{"meta":{"version":1},"digests":{"__proto__":["' + D1 + '"]}}');
    expect(Object.keys(p.digests)).toEqual(['__proto__']);
    expect(compileRuntimePolicy(p).digests.get('__proto__')?.map((d) => d.toString('hex'))).toEqual([D1.toLowerCase()]);
  });

  it.each([
    ['not JSON', '{', '$'],
    ['an array', '[]', '$'],
    ['no meta', '{}', 'meta'],
    ['version 2', '{"meta":{"version":2}}', 'meta.version'],
    ['a fractional generator', '{"meta":{"version":1,"generator":1.5}}', 'meta.generator'],
    ['an unknown top-level field', '{"meta":{"version":1},"digest":{}}', 'digest'],
    ['a string release', '{"meta":{"version":1},"release":"0"}', 'release'],
    ['digests as a list', '{"meta":{"version":1},"digests":[]}', 'digests'],
    ['a digest that is not a list', '{"meta":{"version":1},"digests":{"/a":"ab"}}', 'digests["/a"]'],
    ['a digest that is not hex', '{"meta":{"version":1},"digests":{"/a":["xyz"]}}', 'digests["/a"][0]'],
    ['a digest of odd length', `{"meta":{"version":1},"digests":{"/a":["${'a'.repeat(63)}"]}}`, 'digests["/a"][0]'],
    ['a non-string exclude', '{"meta":{"version":1},"excludes":[1]}', 'excludes[0]'],
    ['an invalid exclude regex', '{"meta":{"version":1},"excludes":["/ok","(unclosed"]}', 'excludes[1]'],
    ['a keyring digest that is not hex', '{"meta":{"version":1},"keyrings":{".ima":["no"]}}', 'keyrings[".ima"][0]'],
    ['an unknown log_hash_alg', '{"meta":{"version":1},"ima":{"log_hash_alg":"md5"}}', 'ima.log_hash_alg'],
    ['a dm_policy', '{"meta":{"version":1},"ima":{"dm_policy":{}}}', 'ima.dm_policy'],
    ['ignored_keyrings not strings', '{"meta":{"version":1},"ima":{"ignored_keyrings":[3]}}', 'ima.ignored_keyrings[0]'],
    ['verification-keys not a string', '{"meta":{"version":1},"verification-keys":[]}', 'verification-keys'],
  ])('rejects %s naming the field', (_t, text, field) => {
    let err: unknown;
    try {
      parseRuntimePolicy(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuntimePolicyError);
    expect((err as RuntimePolicyError).field).toBe(field);
  });
});

describe('excludes', () => {
  it.each([
    // pattern, path, matches (Python re.match: anchored at the start only)
    ['/tmp/.*', '/tmp/x', true],
    ['/tmp/', '/tmp/x', true],
    ['/tmp/', '/var/tmp/x', false],
    ['.*\\.log$', '/var/log/a.log', true],
    ['/var/log/.*\\Z', '/var/log/a', true],
    ['\\A/etc', '/etc/passwd', true],
    ['(?P<d>/opt)/.*', '/opt/x', true],
    ['/(?P<n>a)/(?P=n)', '/a/a', true],
    ['/(?P<n>a)/(?P=n)', '/a/b', false],
    ['/(x)\\1', '/xx', true],
  ])('%s on %s → %s', (pattern, path, want) => {
    expect(translateExclude(pattern).error).toBeUndefined();
    expect(compileExcludes([pattern])(path)).toBe(want);
    // Combined with others, the answer is the same.
    expect(compileExcludes(['/nothing-here', pattern, '/(y)\\1'])(path)).toBe(want);
  });

  it('matches nothing without excludes', () => {
    expect(compileExcludes([])('/tmp')).toBe(false);
  });
});

describe('excludes written as Python regexes (verdicts from Python 3.11 re.match on the same rows)', () => {
  it.each([
    ['(?i)/tmp/.*', '/TMP/x', true],
    ['(?i)/tmp/.*', '/var/tmp', false],
    ['(?is)/VAR/log.*', '/var/log/a\nb', true],
    ['(?i)(?s)/a.b', '/A\nB', true],
    ['(?x) /usr/ (bin|sbin) /  # binaries\n  .*', '/usr/sbin/x', true],
    ['(?x) /usr/ (bin|sbin) /  # binaries\n  .*', '/usr/lib/x', false],
    ['(?x)/a[ ]b', '/a b', true],
    ['(?m)/etc$', '/etc\n/x', true],
    ['(?m)^/x', '/etc\n/x', false],
    ['/data(?#logs)/.*', '/data/x', true],
    ['/a{,2}b', '/aab', true],
    ['/a{,2}b', '/aaab', false],
    ['(?a)/\\w+', '/abc', true],
    ['/var/log/.*\\Z', '/var/log/a', true],
    ['[]x]+', ']x]', true],
    ['[^]]+', '/abc', true],
  ])('%j on %j → %s', (pattern, path, want) => {
    expect(translateExclude(pattern).error).toBeUndefined();
    expect(compileExcludes([pattern])(path)).toBe(want);
    expect(compileExcludes(['/nothing-here', pattern, '/(y)\\1'])(path)).toBe(want);
  });

  it('a valid Keylime policy with (?i) is accepted (it was refused, and the operator skipped its rounds)', () => {
    const p = parseRuntimePolicy({ meta: { version: 1 }, excludes: ['(?i)/tmp/.*', '/var/log/.*'] });
    expect(p.excludes).toEqual(['(?i)/tmp/.*', '/var/log/.*']);
  });

  it.each([
    ['/a(?i)b', /excludes\[0\].*"\/a\(\?i\)b".*global flags \(\?i\) not at the start/],
    ['(?L)/x', /excludes\[0\].*"\(\?L\)\/x".*bytes patterns only/],
    ['(?au)/x', /excludes\[0\].*flags a and u are incompatible/],
    ['/x(?P=n', /excludes\[0\].*unterminated \(\?P=name\)/],
  ])('what cannot be translated is refused, naming the pattern: %s', (pattern, why) => {
    expect(() => parseRuntimePolicy({ meta: { version: 1 }, excludes: [pattern] })).toThrow(why);
  });
});
