import { createServer, type AddressInfo } from 'node:net';
import { LoopbackAddressAllocator, accepting, defaultLoopbackBlock } from './loopback-addresses.js';

describe('LoopbackAddressAllocator', () => {
  it('hands out distinct 127.0.x.y addresses, skipping .0 and .255', () => {
    const allocator = new LoopbackAddressAllocator({ first: 3, last: 4 });
    const ips = Array.from({ length: 508 }, () => allocator.next());
    expect(new Set(ips).size).toBe(508);
    expect(ips[0]).toBe('127.0.3.1');
    expect(ips[253]).toBe('127.0.3.254');
    expect(ips[254]).toBe('127.0.4.1');
    expect(() => allocator.next()).toThrow('exhausted');
  });

  it('skips reserved addresses and refuses to reserve twice or outside 127.0.x.y', () => {
    const allocator = new LoopbackAddressAllocator({ first: 9, last: 9 });
    expect(allocator.reserve('127.0.9.1')).toBe('127.0.9.1');
    expect(allocator.next()).toBe('127.0.9.2');
    expect(() => allocator.reserve('127.0.9.2')).toThrow('already allocated');
    for (const bad of ['127.0.0.1', '127.0.9.0', '127.0.9.255', '10.0.0.1', '127.1.2.3', 'localhost']) {
      expect(() => allocator.reserve(bad)).toThrow(RangeError);
    }
  });

  it('gives each Jest worker a disjoint block that never includes 127.0.0.*', () => {
    const blocks = ['1', '2', '3', '14'].map((id) => defaultLoopbackBlock(id));
    expect(blocks.map((b) => b.first)).toEqual([17, 33, 49, 225]);
    expect(defaultLoopbackBlock('0')).toEqual({ first: 1, last: 16 });
    expect(() => new LoopbackAddressAllocator({ first: 0, last: 3 })).toThrow(RangeError);
  });

  it('nextUnoccupied skips addresses where something already listens, with a real listener', async () => {
    const allocator = new LoopbackAddressAllocator({ first: 250, last: 250 });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.250.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await accepting('127.0.250.1', port)).toBe(true);
      expect(await allocator.nextUnoccupied(port)).toBe('127.0.250.2');
      expect(await allocator.nextUnoccupied(port, () => Promise.resolve(false))).toBe('127.0.250.3');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
