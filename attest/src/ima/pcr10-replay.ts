import { hash as oneShot } from 'node:crypto';
import { digestSize } from '../hash-alg.js';
import type { ImaBank, ImaState, QuotedPcr10 } from './ima-state.js';

/**
 * Running PCR 10 in the sha1 and sha256 banks. Each bank keeps `pcr || digest` in one scratch
 * buffer, so an extend is one one-shot hash and one copy. Digests travel as latin1 strings: on
 * Node 20, node:crypto `hash(alg, data, 'latin1')` is about 4x faster than asking for a Buffer
 * (and createHash slower still), and this runs for every entry of every node.
 */
export class Pcr10Replay {
  private readonly s1 = Buffer.alloc(2 * digestSize('sha1'));
  private readonly s256 = Buffer.alloc(2 * digestSize('sha256'));

  constructor(state: ImaState) {
    this.s1.write(state.pcr10.sha1, 0, digestSize('sha1'), 'hex');
    this.s256.write(state.pcr10.sha256, 0, digestSize('sha256'), 'hex');
  }

  /** Extends both banks with digests given as latin1 strings: new = H(old || digest). */
  extend(d1: string, d256: string): void {
    this.s1.write(d1, 20, 'latin1');
    this.s1.write(oneShot('sha1', this.s1, 'binary'), 0, 'latin1');
    this.s256.write(d256, 32, 'latin1');
    this.s256.write(oneShot('sha256', this.s256, 'binary'), 0, 'latin1');
  }

  /** A violation extends all-ones of the bank size into every bank. */
  extendViolation(): void {
    this.extend(FF1, FF256);
  }

  value(bank: ImaBank): Buffer {
    return bank === 'sha1' ? this.s1.subarray(0, 20) : this.s256.subarray(0, 32);
  }

  matches(quoted: QuotedTarget): boolean {
    const scratch = quoted.bank === 'sha1' ? this.s1 : this.s256;
    const size = scratch.length / 2;
    return quoted.value.length === size && scratch.compare(quoted.value, 0, size, 0, size) === 0;
  }

  state(count: number): ImaState {
    return { count, pcr10: { sha1: this.value('sha1').toString('hex'), sha256: this.value('sha256').toString('hex') } };
  }
}

const FF1 = '\xff'.repeat(20);
const FF256 = '\xff'.repeat(32);

export interface QuotedTarget {
  readonly bank: ImaBank;
  readonly value: Buffer;
}

export function quotedTarget(q: QuotedPcr10): QuotedTarget {
  return { bank: q.bank, value: Buffer.from(q.value, 'hex') };
}
