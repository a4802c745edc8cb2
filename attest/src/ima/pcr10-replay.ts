import { hash as oneShot } from 'node:crypto';
import { digestSize } from '../hash-alg.js';
import type { ImaBank, ImaState, QuotedPcr10 } from './ima-state.js';

/**
 * Running PCR 10 in the banks being replayed (sha1, sha256 or both). Each bank keeps `pcr || digest`
 * in one scratch buffer, so an extend is one one-shot hash and one copy. Digests travel as latin1
 * strings: on Node 20, node:crypto `hash(alg, data, 'latin1')` is about 4x faster than asking for a
 * Buffer (and createHash slower still), and this runs for every entry of every node.
 */
export class Pcr10Replay {
  /** Scratch per replayed bank; undefined for a bank not replayed. */
  readonly s1: Buffer | undefined;
  readonly s256: Buffer | undefined;

  /** `start` must hold every bank in `banks` (checked by the caller: see missingBanks). */
  constructor(start: ImaState['pcr10'], banks: readonly ImaBank[]) {
    this.s1 = banks.includes('sha1') ? scratch('sha1', start.sha1!) : undefined;
    this.s256 = banks.includes('sha256') ? scratch('sha256', start.sha256!) : undefined;
  }

  /** Extends each replayed bank with its digest (latin1): new = H(old || digest). */
  extend(d1: string | undefined, d256: string | undefined): void {
    if (this.s1 !== undefined) extendScratch(this.s1, 'sha1', d1!);
    if (this.s256 !== undefined) extendScratch(this.s256, 'sha256', d256!);
  }

  /** A violation extends all-ones of the bank size into every bank. */
  extendViolation(): void {
    this.extend(FF1, FF256);
  }

  value(bank: ImaBank): Buffer | undefined {
    return bank === 'sha1' ? this.s1?.subarray(0, 20) : this.s256?.subarray(0, 32);
  }

  /** Asked before every entry (the log may run ahead of the quote): a loop, not a native compare. */
  matches(quoted: QuotedTarget): boolean {
    const s = quoted.bank === 'sha1' ? this.s1 : this.s256;
    if (s === undefined) return false;
    const want = quoted.value;
    if (want.length !== s.length / 2) return false;
    for (let i = 0; i < want.length; i++) if (s[i] !== want[i]) return false;
    return true;
  }

  state(count: number): ImaState {
    const pcr10: { sha1?: string; sha256?: string } = {};
    if (this.s1 !== undefined) pcr10.sha1 = this.s1.toString('hex', 0, 20);
    if (this.s256 !== undefined) pcr10.sha256 = this.s256.toString('hex', 0, 32);
    return { count, pcr10 };
  }
}

function scratch(bank: ImaBank, startHex: string): Buffer {
  const s = Buffer.alloc(2 * digestSize(bank));
  s.write(startHex, 0, digestSize(bank), 'hex');
  return s;
}

/** Copies a latin1 digest into s at `at`: a loop, as Buffer.write's native call costs more for 20-32 bytes. */
function put(s: Buffer, at: number, digest: string): void {
  for (let i = 0; i < digest.length; i++) s[at + i] = digest.charCodeAt(i);
}

function extendScratch(s: Buffer, bank: ImaBank, digest: string): void {
  put(s, s.length / 2, digest);
  put(s, 0, oneShot(bank, s, 'binary'));
}

/** Banks asked for that the starting state does not carry (it was replayed in other banks only). */
export function missingBanks(start: ImaState['pcr10'], banks: readonly ImaBank[]): ImaBank[] {
  return banks.filter((b) => start[b] === undefined);
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
