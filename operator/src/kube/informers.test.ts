import type { KubernetesObject } from '@kubernetes/client-node';
import { snapshotter, type Watched } from './informers.js';

function watched(objects: KubernetesObject[]): Watched & { lists: number } {
  const w = {
    kind: 'node' as const, synced: true, version: 0, lists: 0,
    informer: { list: () => { w.lists += 1; return [...objects]; } } as unknown as Watched['informer'],
  };
  return w;
}

describe('snapshotter', () => {
  const obj = (name: string): KubernetesObject => ({ metadata: { name } });
  const name = (o: KubernetesObject): string => o.metadata!.name!;

  it('reuses one list and index until the informer reports a change', () => {
    const objects = [obj('a'), obj('b')];
    const w = watched(objects);
    const snap = snapshotter(w, (o) => o, name, () => 0);
    expect(snap().index.get('b')).toBe(objects[1]);
    expect(snap().list).toHaveLength(2);
    expect(w.lists).toBe(1);
    objects.push(obj('c'));
    w.version += 1;
    expect(snap().index.get('c')?.metadata?.name).toBe('c');
    expect(w.lists).toBe(2);
  });

  it('rebuilds after a second even without a change event', () => {
    const objects = [obj('a')];
    const w = watched(objects);
    let t = 0;
    const snap = snapshotter(w, (o) => o, name, () => t);
    snap();
    objects.push(obj('late'));
    t = 999;
    expect(snap().index.has('late')).toBe(false);
    t = 1000;
    expect(snap().index.has('late')).toBe(true);
  });
});
