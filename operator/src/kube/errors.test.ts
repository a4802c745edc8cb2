import { ApiException } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, isNotFound, KubeError, kubeCall, toKubeError } from './errors.js';

describe('toKubeError', () => {
  it.each<[string, unknown, number, string]>([
    ['ApiException with a JSON string body', new ApiException(404, 'nf', JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'nodes "x" not found' }), {}), 404, 'NotFound'],
    ['ApiException with an object body', new ApiException(409, 'c', { reason: 'Conflict', message: 'the object has been modified' }, {}), 409, 'Conflict'],
    ['ApiException with a non-JSON body', new ApiException(500, 'x', 'oops', {}), 500, ''],
    ['KFC response-like object', { status: 422, statusText: 'Unprocessable', data: { reason: 'Invalid', message: 'bad' } }, 422, 'Invalid'],
    ['network error', new Error('connect ECONNREFUSED'), 0, ''],
    ['a thrown string', 'boom', 0, ''],
  ])('%s', (_n, input, status, reason) => {
    const k = toKubeError(input);
    expect(k).toBeInstanceOf(KubeError);
    expect(k.name).toBe('KubeError');
    expect([k.status, k.reason]).toEqual([status, reason]);
  });

  it('classifies', async () => {
    const nf = new ApiException(404, 'nf', '{}', {});
    const conflict = new ApiException(409, 'c', { reason: 'Conflict' }, {});
    const exists = new ApiException(409, 'c', { reason: 'AlreadyExists' }, {});
    expect([isNotFound(nf), isConflict(nf), isNotFound(conflict), isConflict(conflict)]).toEqual([true, false, false, true]);
    expect([isAlreadyExists(exists), isAlreadyExists(conflict)]).toEqual([true, false]);
    await expect(kubeCall(() => Promise.reject(nf))).rejects.toMatchObject({ name: 'KubeError', status: 404 });
  });
});
