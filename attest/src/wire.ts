/**
 * The agent's HTTPS API, shared by the agent (server) and the operator (client). Bytes travel as
 * base64 (`B64`), digests and nonces as lowercase hex (`Hex`). Everything received is untrusted:
 * the operator parses it with the attest/ parsers before believing any of it.
 * Version: every path is under /v1; a breaking change adds /v2.
 */
import type { PcrSelection, PcrValues } from './pcr.js';

export type B64 = string;
export type Hex = string;

export const AGENT_API_VERSION = 'v1';

/** GET /v1/identity */
export interface IdentityResponse {
  /** DER EK certificates read from the TPM's NV indices (RSA 0x01c00002, ECC 0x01c0000a). */
  ekCertificates: { keyType: 'rsa' | 'ecc'; der: B64 }[];
  /** TPM2B_PUBLIC of the EK the credential is made for (RSA-2048 when present, else ECC P-256). */
  ekPublic: B64;
  /** TPM2B_PUBLIC of the attestation key. */
  akPublic: B64;
  /** TPM object Name of the AK (nameAlg || H(TPMT_PUBLIC)), hex. */
  akName: Hex;
  tpm: { manufacturer: string; firmwareVersion: string };
}

/** POST /v1/activate: the MakeCredential output made by the operator for this EK and AK Name. */
export interface ActivateRequest {
  /** TPM2B_ID_OBJECT: integrityHMAC || encIdentity. */
  credentialBlob: B64;
  /** TPM2B_ENCRYPTED_SECRET: the seed encrypted to the EK. */
  encryptedSecret: B64;
}
export interface ActivateResponse {
  secret: B64;
}

/** POST /v1/quote */
export interface QuoteRequest {
  /** Fresh random nonce, 8 to 64 bytes, hex. Mandatory. */
  nonce: Hex;
  /** PCR indices (0-23) per bank. */
  pcrSelection: PcrSelection;
}
export interface QuoteResponse {
  /** TPMS_ATTEST as the TPM signed it (the bytes inside TPM2B_ATTEST). */
  quoted: B64;
  /** TPMT_SIGNATURE. */
  signature: B64;
  /** PCR values read with the quote, per bank, index → hex. */
  pcrs: PcrValues<Hex>;
}

/** GET /v1/ima?from=N: the binary runtime measurement list from entry N (0-based). */
export interface ImaLogResponse {
  from: number;
  /** Entries in the whole list now; less than `from` means the log shrank (reboot or tampering). */
  total: number;
  /** The entries from `from` to `total`, binary_runtime_measurements format. */
  entries: B64;
}

/** GET /v1/eventlog */
export interface EventLogResponse {
  /** binary_bios_measurements. */
  log: B64;
}

/** GET /v1/verity */
export interface VerityStatusResponse {
  devices: VerityDeviceStatus[];
}
export interface VerityDeviceStatus {
  name: string;
  rootHash: Hex;
  /** 'verified' (status V), 'corrupted' (status C), or 'unknown' when the status could not be read. */
  status: 'verified' | 'corrupted' | 'unknown';
}

/**
 * POST /v1/round: one round's evidence in one exchange. The agent takes the quote first, then reads
 * the IMA list from `imaFrom` (so the entries cover at least what the quoted PCR 10 covers), then the
 * boot event log and dm-verity status when asked. An agent without this path answers 404: the
 * operator then uses /v1/quote, /v1/ima, /v1/eventlog and /v1/verity.
 */
export interface RoundRequest extends QuoteRequest {
  /** IMA entries from this index (0-based); absent: no IMA list. */
  imaFrom?: number;
  /** Include the boot event log. */
  eventLog?: boolean;
  /** Include dm-verity status. */
  verity?: boolean;
}
export interface RoundResponse {
  quote: QuoteResponse;
  /** Present exactly when `imaFrom` was asked for; same meaning as GET /v1/ima. */
  ima?: ImaLogResponse;
  /** Present exactly when `eventLog` was true. */
  eventLog?: EventLogResponse;
  /** Present exactly when `verity` was true. */
  verity?: VerityStatusResponse;
}

/** PUT /v1/credential: the node credential the operator issued. DELETE /v1/credential revokes it. */
export interface CredentialRequest {
  certificatePem: string;
  privateKeyPem: string;
  caPem: string;
}

/** Every non-2xx answer. */
export interface ErrorResponse {
  error: { code: string; message: string };
}
