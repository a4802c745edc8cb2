import type { NodeAttestation } from '../status/resources.js';
import { OwnStatusWrites } from './own-status-writes.js';

const copy = (resourceVersion: string | undefined, phase: 'Registered' | 'Trusted'): NodeAttestation => ({
  metadata: { name: 'n1', ...(resourceVersion === undefined ? {} : { resourceVersion }) }, spec: { nodeName: 'n1', policyName: 'p' }, status: { phase },
});

describe('OwnStatusWrites', () => {
  it('shows the written status over a copy older than the write, and the copy from the write on', () => {
    const w = new OwnStatusWrites();
    w.record('n1', '20', { phase: 'Trusted' });
    expect(w.latest(copy('19', 'Registered'))?.status).toEqual({ phase: 'Trusted' });
    expect(w.latest(copy('19', 'Registered'))?.metadata.resourceVersion).toBe('19');
    const caughtUp = copy('20', 'Trusted');
    expect(w.latest(caughtUp)).toBe(caughtUp);
    expect(w.size).toBe(0);
  });

  it('trusts a copy newer than the write (another writer) or one it cannot compare, and drops the entry', () => {
    const w = new OwnStatusWrites();
    w.record('n1', '20', { phase: 'Trusted' });
    const newer = copy('25', 'Registered');
    expect(w.latest(newer)).toBe(newer);
    expect(w.size).toBe(0);
    for (const rv of [undefined, 'abc', '']) {
      w.record('n1', '20', { phase: 'Trusted' });
      const odd = copy(rv, 'Registered');
      expect(w.latest(odd)).toBe(odd);
      expect(w.size).toBe(0);
    }
  });

  it('keeps the write the API server applied last when two finish out of order; a write without a version records nothing', () => {
    const w = new OwnStatusWrites();
    w.record('n1', '31', { phase: 'Trusted' });
    w.record('n1', '30', { phase: 'Registered' });
    expect(w.latest(copy('29', 'Registered'))?.status).toEqual({ phase: 'Trusted' });
    w.record('n1', undefined, { phase: 'Registered' });
    expect(w.size).toBe(0);
    w.record('n1', '40', { phase: 'Trusted' });
    w.forget('n1');
    expect(w.size).toBe(0);
    expect(w.latest(undefined)).toBeUndefined();
  });
});
