import { seededRandom as prng } from '@nodeward/attest/testing';
import type { RoundRequest } from '@nodeward/attest';
import { AgentError } from './agent-error.js';
import {
  agentErrorCode, parseActivateResponse, parseEventLogResponse, parseIdentityResponse, parseImaLogResponse,
  parseQuoteResponse, parseRoundResponse, parseVerityStatusResponse,
} from './parse-agent-response.js';

const keys = ['quoted', 'signature', 'pcrs', 'sha1', 'sha256', '0', '23', '24', 'akName', 'akPublic', 'ekPublic', 'ekCertificates',
  'keyType', 'der', 'tpm', 'manufacturer', 'firmwareVersion', 'from', 'total', 'entries', 'log', 'devices', 'name', 'rootHash',
  'status', 'secret', 'error', 'code', 'quote', 'ima', 'eventLog', 'verity', '__proto__'];

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
  (v) => parseImaLogResponse(v, 3), parseEventLogResponse, parseVerityStatusResponse, agentErrorCode,
  (v) => parseRoundResponse(v, { nonce: '00', pcrSelection: {}, imaFrom: 3, eventLog: true, verity: true }),
  (v) => parseRoundResponse(v, { nonce: '00', pcrSelection: {} })];

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

describe('parseRoundResponse', () => {
  const quote = { quoted: 'AQID', signature: 'BAU=', pcrs: { sha256: { '0': '00'.repeat(32), '10': 'ff'.repeat(32) } } };
  const ima = { from: 5, total: 7, entries: 'AAAA' };
  const eventLog = { log: 'AAAA' };
  const verity = { devices: [{ name: 'root', rootHash: 'ab'.repeat(32), status: 'verified' }] };
  const full: RoundRequest = { nonce: '00', pcrSelection: {}, imaFrom: 5, eventLog: true, verity: true };
  const quoteOnly: RoundRequest = { nonce: '00', pcrSelection: {} };
  const message = (v: unknown, request: RoundRequest): string => {
    try { parseRoundResponse(v, request); } catch (e) { if (e instanceof AgentError && e.code === 'bad_response') return e.message; throw e; }
    return 'accepted';
  };

  it('returns the quote and each part asked for, dropping extras', () => {
    expect(parseRoundResponse({ quote: { ...quote, x: 1 }, ima, eventLog, verity, extra: true }, full)).toEqual({ quote, ima, eventLog, verity });
    expect(parseRoundResponse({ quote }, quoteOnly)).toEqual({ quote });
    // A shrunk log may be answered from 0, as GET /v1/ima does.
    expect(parseRoundResponse({ quote, ima: { from: 0, total: 2, entries: '' } }, { ...quoteOnly, imaFrom: 5 }).ima).toEqual({ from: 0, total: 2, entries: '' });
  });

  it.each([
    ['not an object', [{ quote }], quoteOnly, 'round is not an object'],
    ['no quote', { ima, eventLog, verity }, full, 'round.quote is not an object'],
    ['a quote PCR of the wrong size', { quote: { ...quote, pcrs: { sha256: { '0': '00'.repeat(20) } } } }, quoteOnly, 'round.quote.pcrs.sha256.0 is not 32 bytes'],
    ['a quote in an unknown bank', { quote: { ...quote, pcrs: { md5: {} } } }, quoteOnly, 'round.quote.pcrs.md5 is not a known bank'],
    ['a signature that is not base64', { quote: { ...quote, signature: 'a*b=' } }, quoteOnly, 'round.quote.signature is not base64'],
    ['the IMA list missing', { quote, eventLog, verity }, full, 'round.ima is missing'],
    ['an IMA list not asked for', { quote, ima }, quoteOnly, 'round.ima was not asked for'],
    ['IMA from elsewhere than asked', { quote, ima: { ...ima, from: 4 }, eventLog, verity }, full, 'round.ima.from is 4, asked for 5'],
    ['a negative IMA total', { quote, ima: { ...ima, total: -1 }, eventLog, verity }, full, 'round.ima.total is not a non-negative integer'],
    ['IMA entries not base64', { quote, ima: { ...ima, entries: '%%%%' }, eventLog, verity }, full, 'round.ima.entries is not base64'],
    ['the event log missing', { quote, ima, verity }, full, 'round.eventLog is missing'],
    ['an event log not asked for', { quote, eventLog }, quoteOnly, 'round.eventLog was not asked for'],
    ['an event log that is not base64', { quote, ima, eventLog: { log: 7 }, verity }, full, 'round.eventLog.log is not a string'],
    ['verity missing', { quote, ima, eventLog }, full, 'round.verity is missing'],
    ['verity not asked for', { quote, verity }, quoteOnly, 'round.verity was not asked for'],
    ['a verity status out of the set', { quote, ima, eventLog, verity: { devices: [{ ...verity.devices[0], status: 'fine' }] } }, full,
      'round.verity.devices[0].status is not verified, corrupted or unknown'],
    ['a null part', { quote, ima: null, eventLog, verity }, full, 'round.ima is not an object'],
  ])('rejects a round answer with %s, naming the field', (_name, v, request, expected) => {
    expect(message(v, request)).toBe(`agent response: ${expected}`);
  });
});
