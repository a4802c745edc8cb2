import { ByteReader } from '../binary/reader.js';
import { ByteWriter } from './writer.js';

/** tpm2-tools' credential file (tpm2_makecredential -o, tpm2_activatecredential -i). */
export const CREDENTIAL_FILE_MAGIC = 0xbadcc0de;
export const CREDENTIAL_FILE_VERSION = 1;

export interface CredentialFile {
  /** TPM2B_ID_OBJECT including its size. */
  readonly credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET including its size. */
  readonly encryptedSecret: Uint8Array;
}

/** magic 0xBADCC0DE (u32 BE) || version 1 (u32 BE) || TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET. */
export function encodeCredentialFile(c: CredentialFile): Buffer {
  return new ByteWriter().u32be(CREDENTIAL_FILE_MAGIC).u32be(CREDENTIAL_FILE_VERSION).bytes(c.credentialBlob).bytes(c.encryptedSecret).finish();
}

/** Parses a tpm2-tools credential file; the two fields are views including their u16 sizes. Throws only ParseError. */
export function decodeCredentialFile(bytes: Uint8Array): CredentialFile {
  const r = new ByteReader(bytes, 'tpm2-tools credential file');
  const magic = r.u32be('magic');
  if (magic !== CREDENTIAL_FILE_MAGIC) r.fail(`magic 0x${magic.toString(16)} is not 0xbadcc0de`, 0);
  const version = r.u32be('version');
  if (version !== CREDENTIAL_FILE_VERSION) r.fail(`unsupported version ${version}`, 4);
  const blobAt = r.offset;
  r.tpm2b('credentialBlob');
  const secretAt = r.offset;
  r.tpm2b('encryptedSecret');
  r.expectEnd();
  return { credentialBlob: bytes.subarray(blobAt, secretAt), encryptedSecret: bytes.subarray(secretAt) };
}
