import type { EnforcementAction } from '../decide/actions.js';
import { ConvergenceMemo } from './convergence-memo.js';

const LIFT: EnforcementAction[] = [{ kind: 'taint', op: 'lift', key: 'k' }, { kind: 'cordon', op: 'lift' }, { kind: 'issue-credential' }];

describe('ConvergenceMemo', () => {
  let t = 0;
  const memo = (): ConvergenceMemo => new ConvergenceMemo(300_000, () => t);
  const calls: string[] = [];
  const converge = (changed: EnforcementAction[] = []) => (): Promise<EnforcementAction[]> => { calls.push('converge'); return Promise.resolve(changed); };
  beforeEach(() => { t = 0; calls.splice(0); });

  it('skips a request found converged until maxAge has passed', async () => {
    const m = memo();
    expect(await m.run('n1', { actions: LIFT }, converge())).toEqual([]);
    t = 299_999;
    expect(await m.run('n1', { actions: LIFT }, converge())).toBeUndefined();
    t = 300_000;
    await m.run('n1', { actions: LIFT }, converge());
    expect(calls).toHaveLength(2);
  });

  it('runs a different request, another node, and after forget', async () => {
    const m = memo();
    await m.run('n1', { actions: LIFT }, converge());
    await m.run('n1', { actions: [{ kind: 'taint', op: 'apply', key: 'k' }] }, converge());
    await m.run('n2', { actions: LIFT }, converge());
    m.forget('n2');
    await m.run('n2', { actions: LIFT }, converge());
    expect(calls).toHaveLength(4);
  });

  it('does not remember a convergence that changed something, and forgets on a throw', async () => {
    const m = memo();
    expect(await m.run('n1', { actions: LIFT }, converge([{ kind: 'issue-credential' }]))).toEqual([{ kind: 'issue-credential' }]);
    await m.run('n1', { actions: LIFT }, converge());
    expect(m.size).toBe(1);
    t = 300_000;
    await expect(m.run('n1', { actions: LIFT }, () => Promise.reject(new Error('api down')))).rejects.toThrow('api down');
    expect(m.size).toBe(0);
    await m.run('n1', { actions: LIFT }, converge());
    expect(calls).toHaveLength(3);
  });

  it('does not remember a convergence that changed nothing but left work to retry', async () => {
    const m = memo();
    let settled = false;
    await m.run('n1', { actions: LIFT }, converge(), () => settled);
    await m.run('n1', { actions: LIFT }, converge(), () => settled);
    expect(calls).toHaveLength(2);
    settled = true;
    await m.run('n1', { actions: LIFT }, converge(), () => settled);
    await m.run('n1', { actions: LIFT }, converge(), () => settled);
    expect(calls).toHaveLength(3);
  });
});
