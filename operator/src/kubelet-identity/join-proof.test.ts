import { JOIN_PROOF_ANNOTATION, MAX_JOIN_PROOF_CHARS } from '@nodeward/attest';
import { parseJoinProof } from './join-proof.js';

const quote = { quoted: 'AAAA', signature: 'AAAA', pcrs: { sha256: { '0': '00'.repeat(32) } } };
const good = { joinRequest: 'join-node-a-x1', secret: Buffer.alloc(32, 1).toString('base64'), quote };
const annotated = (v: unknown): Record<string, string> => ({ [JOIN_PROOF_ANNOTATION]: typeof v === 'string' ? v : JSON.stringify(v) });

describe('parseJoinProof', () => {
  it('reads a well-formed proof', () => {
    const r = parseJoinProof(annotated(good));
    expect(r.ok && r.proof).toEqual(good);
  });

  it('says a missing proof is missing', () => {
    const r = parseJoinProof({});
    expect(!r.ok && r.failure.id).toBe('join.proof_missing');
  });

  it.each([
    ['oversized', 'x'.repeat(MAX_JOIN_PROOF_CHARS + 1)],
    ['not JSON', '{"joinRequest":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a bad object name', { ...good, joinRequest: 'Bad/Name' }],
    ['a secret that is not base64', { ...good, secret: 'not base64!' }],
    ['an oversized secret', { ...good, secret: Buffer.alloc(100).toString('base64') }],
    ['no quote', { ...good, quote: undefined }],
    ['a quote PCR of the wrong size', { ...good, quote: { ...quote, pcrs: { sha256: { '0': '00' } } } }],
    ['an unknown bank', { ...good, quote: { ...quote, pcrs: { md5: {} } } }],
    ['an event log that is not base64', { ...good, eventLog: '***' }],
  ])('refuses %s as malformed', (_what, v) => {
    const r = parseJoinProof(annotated(v));
    expect(!r.ok && r.failure.id).toBe('join.proof_malformed');
  });
});
