import { ByteWriter, TPM_ALG } from '@nodeward/attest';
import {
  EMPTY_PASSWORD, marshalCommand, malformedAsTpmError, parseResponse, TPM_RH_OWNER, type AuthCommand,
} from './tpm-command.js';
import { TpmError } from './tpm-error.js';

/**
 * Marshalling for creating the AK from Node (Part 3 §12.1 TPM2_Create, §12.2 TPM2_Load, §28.5
 * TPM2_EvictControl): the AK is created under the EK, loaded, and persisted at the AK handle, with
 * the template tpm2_createak uses. Pure: bytes in, bytes out; a response code other than success
 * becomes a TpmResponseError (parseResponse), a malformed response a TpmError.
 */

const TPM_ALG_RSA = 0x0001;
const TPM_ALG_ECC = 0x0023;
const TPM_ALG_NULL = 0x0010;
const TPM_ALG_RSASSA = 0x0014;
const TPM_ALG_ECDSA = 0x0018;
const TPM_ECC_NIST_P256 = 0x0003;

/** TPMA_OBJECT bits of the AK: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, sign. */
export const AK_ATTRIBUTES = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 16) | (1 << 18);

/**
 * The AK's TPMT_PUBLIC template, as tpm2_createak builds it for `-G rsa -s rsassa -g sha256` or
 * `-G ecc -s ecdsa -g sha256`: SHA-256 name, no authPolicy (the AK is used with its empty password),
 * no symmetric algorithm, RSA-2048 (default exponent) RSASSA-SHA256 or NIST P-256 ECDSA-SHA256, no
 * KDF, empty unique (the TPM fills it in).
 */
export function akTemplate(akType: 'rsa' | 'ecc'): Buffer {
  const w = new ByteWriter().u16be(akType === 'rsa' ? TPM_ALG_RSA : TPM_ALG_ECC).u16be(TPM_ALG.SHA256).u32be(AK_ATTRIBUTES)
    .tpm2b(new Uint8Array(0)).u16be(TPM_ALG_NULL);
  if (akType === 'rsa') return w.u16be(TPM_ALG_RSASSA).u16be(TPM_ALG.SHA256).u16be(2048).u32be(0).tpm2b(new Uint8Array(0)).finish();
  return w.u16be(TPM_ALG_ECDSA).u16be(TPM_ALG.SHA256).u16be(TPM_ECC_NIST_P256).u16be(TPM_ALG_NULL)
    .tpm2b(new Uint8Array(0)).tpm2b(new Uint8Array(0)).finish();
}

/** The EK's policy session in a command's authorization area; continueSession clear, so the TPM flushes it on success. */
export function policyAuth(session: number, nonceCaller: Uint8Array): AuthCommand {
  return { handle: session, nonce: nonceCaller, attributes: 0, hmac: new Uint8Array(0) };
}

/**
 * TPM2_Create under the EK (authorised by the policy session): inSensitive with an empty userAuth and
 * no data, inPublic the AK template, no outsideInfo, no creation PCRs.
 */
export function createCommand(o: { parent: number; session: number; nonceCaller: Uint8Array; template: Uint8Array }): Buffer {
  const sensitive = new ByteWriter().tpm2b(new Uint8Array(0)).tpm2b(new Uint8Array(0)).finish();
  const params = new ByteWriter().tpm2b(sensitive).tpm2b(o.template).tpm2b(new Uint8Array(0)).u32be(0).finish();
  return marshalCommand('Create', [o.parent], [policyAuth(o.session, o.nonceCaller)], params);
}

/** outPrivate and outPublic as TPM2B (with their sizes, as TPM2_Load takes them); the creation data is not needed. */
export function parseCreateResponse(bytes: Uint8Array): { outPrivate: Buffer; outPublic: Buffer } {
  const { params: r } = parseResponse('Create', bytes, 0, true);
  return malformedAsTpmError('Create', () => {
    const outPrivate = new ByteWriter().tpm2b(r.tpm2b('outPrivate')).finish();
    const outPublic = new ByteWriter().tpm2b(r.tpm2b('outPublic')).finish();
    r.tpm2b('creationData');
    r.tpm2b('creationHash', 64);
    r.u16be('creationTicket.tag');
    r.u32be('creationTicket.hierarchy');
    r.tpm2b('creationTicket.digest', 64);
    r.expectEnd();
    return { outPrivate, outPublic };
  });
}

/** TPM2_Load of what TPM2_Create returned, under the EK (authorised by a fresh policy session). */
export function loadCommand(o: { parent: number; session: number; nonceCaller: Uint8Array; outPrivate: Uint8Array; outPublic: Uint8Array }): Buffer {
  return marshalCommand('Load', [o.parent], [policyAuth(o.session, o.nonceCaller)],
    new ByteWriter().bytes(o.outPrivate).bytes(o.outPublic).finish());
}

/** The loaded object's transient handle (0x80xxxxxx). */
export function parseLoadResponse(bytes: Uint8Array): number {
  const { handles: [handle], params: r } = parseResponse('Load', bytes, 1, true);
  malformedAsTpmError('Load', () => {
    r.tpm2b('name', 66);
    r.expectEnd();
  });
  if (handle === undefined || handle >>> 24 !== 0x80) throw new TpmError('TPM2_Load', `0x${(handle ?? 0).toString(16)} is not a transient handle`);
  return handle;
}

/** TPM2_EvictControl by the owner (empty password): persists a transient object at `persistentHandle`. */
export function evictControlCommand(objectHandle: number, persistentHandle: number): Buffer {
  return marshalCommand('EvictControl', [TPM_RH_OWNER, objectHandle], [EMPTY_PASSWORD], new ByteWriter().u32be(persistentHandle).finish());
}

export function parseEvictControlResponse(bytes: Uint8Array): void {
  const { params: r } = parseResponse('EvictControl', bytes, 0, true);
  malformedAsTpmError('EvictControl', () => r.expectEnd());
}
