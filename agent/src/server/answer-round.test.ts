import type { QuoteResponse } from '@nodeward/attest';
import type { ImaLogIndex, ImaSlice } from '../evidence/ima-log-index.js';
import type { AgentTpm } from '../tpm/agent-tpm.js';
import { answerRound } from './agent-server.js';
import { AgentMetrics } from './metrics.js';

/**
 * The order inside POST /v1/round is a security property: the IMA list must be read after the quote
 * returns, so it holds every entry the quoted PCR 10 covers. Read before (or alongside) the quote, a
 * file measured in between would be in PCR 10 but not in the list, and a healthy node would fail its
 * replay. swtpm cannot produce that race on demand, so this pins the order with recording fakes.
 */
describe('answerRound', () => {
  const quote: QuoteResponse = { quoted: 'AA==', signature: 'AA==', pcrs: {} };
  const slice: ImaSlice = { from: 0, total: 1, entries: Buffer.from('entry') };
  const nonce = Buffer.alloc(32, 1);
  const selection = { sha256: [10] };

  function recordingDeps(trace: string[]): Parameters<typeof answerRound>[0] {
    const tpm = {
      quote: async (): Promise<QuoteResponse> => {
        trace.push('quote started');
        await new Promise((r) => setTimeout(r, 20));
        trace.push('quote returned');
        return quote;
      },
    } as unknown as AgentTpm;
    const ima = {
      slice: (from: number): Promise<ImaSlice> => {
        trace.push(`ima read from ${from}`);
        return Promise.resolve({ ...slice, from });
      },
    } as unknown as ImaLogIndex;
    return { tpm, ima, eventLogPath: '/nonexistent/nodeward-eventlog', verity: { kind: 'files', statusPath: '/nonexistent/s', tablePath: '/nonexistent/t' }, metrics: new AgentMetrics() };
  }

  it('reads the IMA list only after the quote has returned', async () => {
    const trace: string[] = [];
    const answer = await answerRound(recordingDeps(trace), { nonce, selection, imaFrom: 7, eventLog: false, verity: false });
    expect(trace).toEqual(['quote started', 'quote returned', 'ima read from 7']);
    expect(answer).toEqual({ quote, ima: { from: 7, total: 1, entries: slice.entries.toString('base64') } });
  });

  it('leaves out the IMA list unless asked for it', async () => {
    const trace: string[] = [];
    expect(await answerRound(recordingDeps(trace), { nonce, selection, eventLog: false, verity: false })).toEqual({ quote });
    expect(trace).toEqual(['quote started', 'quote returned']);
  });

  it('names the missing part when the event log asked for cannot be read', async () => {
    await expect(answerRound(recordingDeps([]), { nonce, selection, eventLog: true, verity: false }))
      .rejects.toMatchObject({ status: 503, code: 'eventlog.unavailable', message: 'eventlog not present on this node' });
  });
});
