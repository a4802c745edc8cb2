/** Marshalling counterpart of ByteReader: big-endian fields appended to a growing list of chunks. */
export class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Uint8Array.of(v & 0xff));
  }

  u16be(v: number): this {
    return this.push(Uint8Array.of((v >>> 8) & 0xff, v & 0xff));
  }

  u32be(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }

  u64be(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, v));
    return this.push(b);
  }

  bytes(b: Uint8Array): this {
    return this.push(b);
  }

  /** TPM2B_*: u16 size then the bytes. */
  tpm2b(b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError(`TPM2B of ${b.length} bytes exceeds 65535`);
    return this.u16be(b.length).push(b);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** Wraps already-marshalled bytes in a TPM2B (u16 size prefix). */
export function tpm2b(b: Uint8Array): Buffer {
  return new ByteWriter().tpm2b(b).finish();
}
