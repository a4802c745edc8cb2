import { AgentError } from './agent-error.js';
import {
  agentErrorCode, parseActivateResponse, parseEventLogResponse, parseIdentityResponse, parseImaLogResponse,
  parseQuoteResponse, parseVerityStatusResponse,
} from './parse-agent-response.js';

/** A small seeded PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const keys = ['quoted', 'signature', 'pcrs', 'sha1', 'sha256', '0', '23', '24', 'akName', 'akPublic', 'ekPublic', 'ekCertificates',
  'keyType', 'der', 'tpm', 'manufacturer', 'firmwareVersion', 'from', 'total', 'entries', 'log', 'devices', 'name', 'rootHash',
  'status', 'secret', 'error', 'code', '__proto__'];

function randomJson(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 6 : 8));
  const leaves: unknown[] = [null, true, -1, 2 ** 60, 'ab'.repeat(Math.floor(rand() * 40)), 'AAAA', 'rsa', 'verified'];
  if (pick < 6) return leaves[Math.floor(rand() * leaves.length)];
  if (pick === 6) return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 6); i > 0; i--) o[keys[Math.floor(rand() * keys.length)]!] = randomJson(rand, depth + 1);
  return o;
}

const parsers: ((v: unknown) => unknown)[] = [parseQuoteResponse, parseIdentityResponse, parseActivateResponse,
  (v) => parseImaLogResponse(v, 3), parseEventLogResponse, parseVerityStatusResponse, agentErrorCode];

it('lets only AgentError escape on random JSON (seeded)', () => {
  const rand = prng(20240611);
  let accepted = 0;
  const escaped: unknown[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = JSON.parse(JSON.stringify(randomJson(rand)) ?? 'null') as unknown;
    for (const parse of parsers) {
      try {
        parse(v);
        accepted++;
      } catch (e) {
        if (!(e instanceof AgentError) || e.code !== 'bad_response') escaped.push(e);
      }
    }
  }
  expect(escaped).toEqual([]);
  expect(accepted).toBeGreaterThan(0);
});

it('returns exactly the declared fields, dropping extras', () => {
  expect(parseEventLogResponse({ log: 'AAAA', extra: 1 })).toEqual({ log: 'AAAA' });
  expect(parseImaLogResponse({ from: 3, total: 2, entries: '' }, 3)).toEqual({ from: 3, total: 2, entries: '' });
  expect(() => parseImaLogResponse({ from: 3, total: -1, entries: '' }, 3)).toThrow(AgentError);
  expect(agentErrorCode({ error: { code: 'x', message: 'y' } })).toBe('x');
});
