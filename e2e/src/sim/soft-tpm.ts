import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  ALG, BANK_NAMES, ECC_CURVE, TPM_GENERATED_VALUE, TPM_ST, TPMA_OBJECT, marshalAttest, marshalPublic,
  marshalSignature, parsePublic, pcrSelection, tpmObjectName, type BankName, type HashAlgName, type PcrValues, type TpmPublic,
} from '@nodeward/attest';

/**
 * A TPM that signs in software: real TPMS_ATTEST quotes and TPMT_SIGNATUREs over real PCR digests,
 * the same wire format as a hardware or swtpm quote. For unit tests of verification and for scale
 * benchmarks, where thousands of swtpm processes would not fit on two cores.
 */
export interface SoftAk {
  readonly privateKey: KeyObject;
  /** TPM2B_PUBLIC bytes (what the agent serves as akPublic). */
  readonly publicArea: Buffer;
  readonly name: Buffer;
  readonly scheme: 'rsassa' | 'rsapss' | 'ecdsa';
}

const AK_ATTRIBUTES = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin
  | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.restricted | TPMA_OBJECT.sign;

export function createSoftAk(scheme: SoftAk['scheme'] = 'rsassa'): SoftAk {
  const base = { nameAlg: 'sha256' as HashAlgName, objectAttributes: AK_ATTRIBUTES, authPolicy: new Uint8Array(0), symmetric: null, raw: new Uint8Array(0) };
  let pub: TpmPublic;
  let privateKey: KeyObject;
  if (scheme === 'ecdsa') {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = kp.publicKey.export({ format: 'jwk' });
    privateKey = kp.privateKey;
    pub = { ...base, type: 'ecc', curveId: ECC_CURVE.NIST_P256, kdf: null, scheme: { scheme: ALG.ECDSA, hashAlg: 'sha256' },
      x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') };
  } else {
    const kp = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = kp.publicKey.export({ format: 'jwk' });
    privateKey = kp.privateKey;
    pub = { ...base, type: 'rsa', keyBits: 2048, exponent: 0, modulus: Buffer.from(jwk.n!, 'base64url'),
      scheme: { scheme: scheme === 'rsapss' ? ALG.RSAPSS : ALG.RSASSA, hashAlg: 'sha256' } };
  }
  const publicArea = marshalPublic(pub);
  // The Name hashes the TPMT_PUBLIC bytes (`raw` once parsed), so derive it from what is served.
  return { privateKey, publicArea, name: tpmObjectName(parsePublic(publicArea)), scheme };
}


export interface SoftClock { resetCount: number; restartCount: number; clock?: bigint }

/** Quotes the given PCR values (all of them, banks in sha1, sha256, sha384 order) with this nonce. */
export function softQuote(ak: SoftAk, nonce: Uint8Array, pcrs: PcrValues, clock: SoftClock = { resetCount: 0, restartCount: 0 }): { quoted: Buffer; signature: Buffer } {
  const banks = BANK_NAMES.filter((b) => pcrs[b] !== undefined);
  const selection = pcrSelection(Object.fromEntries(banks.map((b) => [b, Object.keys(pcrs[b]!).map(Number).sort((x, y) => x - y)])));
  const digest = createHash('sha256');
  for (const sel of selection) for (const i of sel.pcrs) digest.update(pcrs[sel.bank as BankName]![String(i)]!);
  const quoted = marshalAttest({
    magic: TPM_GENERATED_VALUE, type: TPM_ST.ATTEST_QUOTE, qualifiedSigner: ak.name, extraData: nonce,
    clockInfo: { clock: clock.clock ?? 1000n, resetCount: clock.resetCount, restartCount: clock.restartCount, safe: true },
    firmwareVersion: 0x2019102300000000n, attested: { kind: 'quote', pcrSelect: selection, pcrDigest: digest.digest() },
  });
  const signature = ak.scheme === 'ecdsa'
    ? (() => { const s = sign('sha256', quoted, { key: ak.privateKey, dsaEncoding: 'ieee-p1363' }); return marshalSignature({ scheme: 'ecdsa', hashAlg: 'sha256', r: s.subarray(0, 32), s: s.subarray(32) }); })()
    : marshalSignature({ scheme: ak.scheme, hashAlg: 'sha256', sig: sign('sha256', quoted, ak.scheme === 'rsapss' ? { key: ak.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : ak.privateKey) });
  return { quoted, signature };
}

/** A PCR extend in software: new = H(old ‖ digest). */
export function softExtend(bank: HashAlgName, pcr: Uint8Array, digest: Uint8Array): Buffer {
  return createHash(bank).update(pcr).update(digest).digest();
}
