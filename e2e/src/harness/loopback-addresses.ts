import { connect } from 'node:net';

/** A range of third octets 127.0.<first..last>.* to allocate from. */
export interface LoopbackBlock {
  readonly first: number;
  readonly last: number;
}

const loopbackV4 = /^127\.0\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The block for this process: Jest workers get disjoint blocks of 16 third octets, so simulated nodes in
 * parallel test files never share an address. 127.0.0.* (the harness's own servers) is never used.
 */
export function defaultLoopbackBlock(workerId = process.env['JEST_WORKER_ID']): LoopbackBlock {
  const worker = Number.parseInt(workerId ?? '0', 10);
  const first = 1 + ((Number.isNaN(worker) ? 0 : worker) % 15) * 16;
  return { first, last: first + 15 };
}

/** Hands out distinct loopback addresses 127.0.x.y (y from 1 to 254) from one block. */
export class LoopbackAddressAllocator {
  private readonly used = new Set<string>();
  private cursor: number;

  constructor(private readonly block: LoopbackBlock = defaultLoopbackBlock()) {
    if (block.first < 1 || block.last > 255 || block.first > block.last) {
      throw new RangeError(`invalid loopback block 127.0.${block.first}-${block.last}.*`);
    }
    this.cursor = 0;
  }

  /** The next unused address; throws when the block is exhausted. */
  next(): string {
    const size = (this.block.last - this.block.first + 1) * 254;
    for (; this.cursor < size; this.cursor++) {
      const ip = `127.0.${this.block.first + Math.floor(this.cursor / 254)}.${(this.cursor % 254) + 1}`;
      if (!this.used.has(ip)) {
        this.used.add(ip);
        this.cursor++;
        return ip;
      }
    }
    throw new RangeError(`loopback block 127.0.${this.block.first}-${this.block.last}.* exhausted`);
  }

  /** Claims a specific 127.0.x.y address (x ≥ 1, y from 1 to 254); throws if it is taken or not such an address. */
  reserve(ip: string): string {
    const match = loopbackV4.exec(ip);
    const x = Number(match?.[1] ?? -1);
    const y = Number(match?.[2] ?? -1);
    if (x < 1 || x > 255 || y < 1 || y > 254) throw new RangeError(`${ip} is not a simulated-node address 127.0.x.y (x ≥ 1, 1 ≤ y ≤ 254)`);
    if (this.used.has(ip)) throw new RangeError(`${ip} is already allocated`);
    this.used.add(ip);
    return ip;
  }

  /**
   * The next unused address where nothing accepts connections on `port`. An agent another run left
   * behind on this block would otherwise answer for a node of this run.
   */
  async nextUnoccupied(port: number, occupied: (host: string, port: number) => Promise<boolean> = accepting): Promise<string> {
    for (;;) {
      const ip = this.next();
      if (!(await occupied(ip, port))) return ip;
    }
  }
}

/** Whether something accepts TCP connections on host:port. */
export function accepting(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
