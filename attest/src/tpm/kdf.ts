import { createHash, createHmac } from 'node:crypto';
import { digestSize, type HashAlgName } from '../hash-alg.js';

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The label as KDFa/KDFe use it: the string's bytes and a terminating 0 (added when missing). */
function labelBytes(label: string): Buffer {
  const b = Buffer.from(label, 'latin1');
  return b.length > 0 && b[b.length - 1] === 0 ? b : Buffer.concat([b, Buffer.of(0)]);
}

/** KDFa (TPM 2.0 Part 1, 11.4.10.2): SP800-108 counter mode with HMAC. bits must be a multiple of 8. */
export function kdfa(alg: HashAlgName, key: Uint8Array, label: string, [contextU, contextV]: readonly [Uint8Array, Uint8Array], bits: number): Buffer {
  const out: Buffer[] = [];
  const l = labelBytes(label);
  for (let i = 1, have = 0; have < bits / 8; i++) {
    const block = createHmac(alg, key).update(u32(i)).update(l).update(contextU).update(contextV).update(u32(bits)).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

/** KDFe (TPM 2.0 Part 1, 11.4.10.3): SP800-56A concatenation KDF over the ECDH x-coordinate Z. */
export function kdfe(alg: HashAlgName, z: Uint8Array, label: string, [partyU, partyV]: readonly [Uint8Array, Uint8Array], bits: number): Buffer {
  const out: Buffer[] = [];
  const l = labelBytes(label);
  for (let i = 1; out.length * digestSize(alg) < bits / 8; i++) {
    out.push(createHash(alg).update(u32(i)).update(z).update(l).update(partyU).update(partyV).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}
