import type { KubernetesObject } from '@kubernetes/client-node';
import { IndexedCache, listInPages, shardSelector } from './informers.js';

interface View { name: string; key: string; rv: string }

const obj = (name: string, key = name, rv = '1'): KubernetesObject =>
  ({ metadata: { name, resourceVersion: rv }, spec: { key } }) as KubernetesObject;

function cacheOver(objects: KubernetesObject[], now: () => number = () => 0): { cache: IndexedCache<View>; conversions: () => number } {
  let conversions = 0;
  const convert = (o: KubernetesObject): View => {
    conversions += 1;
    return { name: o.metadata!.name!, key: (o as { spec: { key: string } }).spec.key, rv: o.metadata!.resourceVersion! };
  };
  return { cache: new IndexedCache(convert, (v) => v.key, () => objects, now), conversions: () => conversions };
}

describe('IndexedCache', () => {
  it('converts each object once per change and reuses the list until something changes', () => {
    const { cache, conversions } = cacheOver([obj('a'), obj('b')]);
    expect(cache.get('b')?.name).toBe('b');
    const first = cache.list();
    expect(first.map((v) => v.name)).toEqual(['a', 'b']);
    expect(cache.list()).toBe(first);
    expect(conversions()).toBe(2);
    cache.upsert(obj('c'));
    expect(conversions()).toBe(3);
    expect(cache.get('c')?.name).toBe('c');
    expect(cache.list()).not.toBe(first);
    expect(cache.list().map((v) => v.name)).toEqual(['a', 'b', 'c']);
  });

  it('an update replaces the object and moves it to its new key', () => {
    const { cache } = cacheOver([obj('a', 'k1')]);
    cache.get('k1');
    cache.upsert(obj('a', 'k2', '2'));
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k2')?.rv).toBe('2');
    expect(cache.list()).toHaveLength(1);
  });

  it('a delete removes the object from the index and the list', () => {
    const { cache } = cacheOver([obj('a'), obj('b')]);
    cache.get('a');
    cache.remove(obj('a'));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.list().map((v) => v.name)).toEqual(['b']);
    cache.remove(obj('never-seen'));
    expect(cache.list()).toHaveLength(1);
  });

  it('two objects with one key: the latest is indexed, and the other takes its place when it goes', () => {
    const { cache } = cacheOver([obj('first', 'node-1')]);
    cache.get('node-1');
    cache.upsert(obj('second', 'node-1'));
    expect(cache.get('node-1')?.name).toBe('second');
    cache.remove(obj('second', 'node-1'));
    expect(cache.get('node-1')?.name).toBe('first');
    cache.remove(obj('first', 'node-1'));
    expect(cache.get('node-1')).toBeUndefined();
  });

  it('removing the older of two objects with one key keeps the newer indexed', () => {
    const { cache } = cacheOver([obj('first', 'node-1')]);
    cache.get('node-1');
    cache.upsert(obj('second', 'node-1'));
    cache.remove(obj('first', 'node-1'));
    expect(cache.get('node-1')?.name).toBe('second');
  });

  it('re-reads the whole informer cache once a minute, even when no event came', () => {
    const objects = [obj('a')];
    let t = 0;
    const { cache } = cacheOver(objects, () => t);
    cache.get('a');
    objects.push(obj('late'));
    t = 59_999;
    expect(cache.get('late')).toBeUndefined();
    t = 60_000;
    expect(cache.get('late')?.name).toBe('late');
  });
});

describe('shardSelector', () => {
  it('selects the label values of the shards, sorted, and nothing for no shard', () => {
    expect(shardSelector(new Set(['30000:7', '10000:12']))).toBe('attestation.nodeward.io/shard in (10000-12,30000-7)');
    expect(shardSelector(new Set())).toBeUndefined();
  });
});

describe('listInPages', () => {
  const item = (name: string): KubernetesObject => ({ metadata: { name, managedFields: [{}] } });
  it('follows continue (either spelling) to the end, trims each object on arrival, and keeps the last page\'s resourceVersion', async () => {
    const asked: (string | undefined)[] = [];
    const pages: Record<string, { items: KubernetesObject[]; metadata: Record<string, string> }> = {
      first: { items: [item('a'), item('b')], metadata: { resourceVersion: '7', _continue: 'c1' } },
      c1: { items: [item('c'), item('d')], metadata: { resourceVersion: '7', continue: 'c2' } },
      c2: { items: [item('e')], metadata: { resourceVersion: '7', continue: '' } },
    };
    const trimmedBefore: number[] = [];
    const list = await listInPages(async (cont) => {
      asked.push(cont);
      trimmedBefore.push(Object.values(pages).flatMap((p) => p.items).filter((o) => o.metadata?.managedFields === undefined).length);
      return Promise.resolve(pages[cont ?? 'first']!);
    }, (o) => { delete o.metadata?.managedFields; });
    expect(asked).toEqual([undefined, 'c1', 'c2']);
    expect(list.items.map((o) => o.metadata?.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(list.items.every((o) => o.metadata?.managedFields === undefined)).toBe(true);
    // Each page was trimmed before the next one was asked for.
    expect(trimmedBefore).toEqual([0, 2, 4]);
    expect(list.metadata?.resourceVersion).toBe('7');
  });

  it('passes a page\'s failure on (the informer retries the list)', async () => {
    await expect(listInPages(async () => Promise.reject(new Error('410 Gone')), () => undefined)).rejects.toThrow('410 Gone');
  });
});
