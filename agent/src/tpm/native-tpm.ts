import { randomBytes } from 'node:crypto';
import { hash, parseAttest, type BankName, type Hex, type PcrSelection, type PcrValues, type QuoteResponse } from '@nodeward/attest';
import {
  activateCredentialCommand, asksResubmit, flushContextCommand, getCapabilityCommand, HANDLE_RANGES, parseHandlesResponse,
  parsePropertiesResponse, TPM_PT_FIXED, NV_READ_CHUNK, nvReadCommand, nvReadPublicCommand, parseNvReadPublicResponse, parseNvReadResponse, isNoObjectAt, malformedAsTpmError, parseActivateCredentialResponse,
  parseFlushContextResponse, parsePcrReadResponse, parsePolicySecretResponse, parseQuoteResponse, parseReadPublicResponse,
  parseStartAuthSessionResponse, pcrReadCommand, policySecretEndorsementCommand, quoteCommand, readPublicCommand,
  startPolicySessionCommand,
} from './tpm-command.js';
import type { TpmConnection } from './tpm-transport.js';
import {
  akTemplate, createCommand, evictControlCommand, loadCommand, parseCreateResponse, parseEvictControlResponse, parseLoadResponse,
} from './ak-command.js';

/**
 * The agent's hot TPM operations as command sequences on one connection (no tpm2-tools process per
 * command): the quote with the PCR values it covers, credential activation, and reading a public area.
 */


/** At most this many submissions of one command the TPM answers with RETRY, YIELDED or TESTING (ESAPI: 5). */
const MAX_SUBMISSIONS = 5;

/** Sends a command, again when the TPM asks for it (TPM_RC_RETRY etc.); the last answer is returned either way. */
export async function submit(c: TpmConnection, command: Buffer): Promise<Buffer> {
  let response = await c.send(command);
  for (let i = 1; i < MAX_SUBMISSIONS && asksResubmit(response); i++) response = await c.send(command);
  return response;
}

/** How often a quote is re-taken when a PCR moved between the quote and the PCR reads. */
const QUOTE_ATTEMPTS = 3;

/** Reads the selected PCRs, looping because TPM2_PCR_Read returns at most 8 per call; PCRs the TPM lacks are left out. */
export async function readPcrs(c: TpmConnection, sel: PcrSelection): Promise<PcrValues<Hex>> {
  const remaining = new Map<BankName, Set<number>>();
  for (const [bank, idx] of Object.entries(sel) as [BankName, readonly number[]][]) if (idx.length > 0) remaining.set(bank, new Set(idx));
  const out: PcrValues<Hex> = {};
  while ([...remaining.values()].some((s) => s.size > 0)) {
    const ask: PcrSelection = Object.fromEntries([...remaining].map(([b, s]) => [b, [...s]]));
    const r = parsePcrReadResponse(await submit(c, pcrReadCommand(ask)));
    let progress = false;
    for (const [bank, values] of Object.entries(r.values) as [BankName, Record<string, Buffer>][]) {
      for (const [index, v] of Object.entries(values)) {
        (out[bank] ??= {})[index] = v.toString('hex');
        progress = remaining.get(bank)?.delete(Number(index)) === true || progress;
      }
    }
    if (!progress) break;
  }
  return out;
}

/** Whether the PCR values are the ones the quote's digest covers (selection order, SHA-256 as the AK signs). */
function coversValues(quoted: Buffer, pcrs: PcrValues<Hex>): boolean {
  const attest = malformedAsTpmError('Quote', () => parseAttest(quoted));
  if (attest.attested.kind !== 'quote') return false;
  const values: Buffer[] = [];
  for (const { bank, pcrs: indices } of attest.attested.pcrSelect) {
    for (const i of indices) {
      const hex = (pcrs as Partial<Record<string, Record<string, string>>>)[bank]?.[String(i)];
      if (hex === undefined) return false;
      values.push(Buffer.from(hex, 'hex'));
    }
  }
  return hash('sha256', ...values).equals(attest.attested.pcrDigest);
}

/**
 * TPM2_Quote, then the PCR values. When a PCR moved in between (an IMA measurement landed), the
 * quote is taken again, so the values sent match what was signed; after the last attempt the
 * values are sent as read and the verifier reports the mismatch.
 */
export async function nativeQuote(c: TpmConnection, o: { akHandle: number; akType: 'rsa' | 'ecc'; nonce: Buffer; sel: PcrSelection }): Promise<QuoteResponse> {
  let q: { quoted: Buffer; signature: Buffer; pcrs: PcrValues<Hex> } | undefined;
  for (let attempt = 0; attempt < QUOTE_ATTEMPTS; attempt++) {
    const signed = parseQuoteResponse(await submit(c, quoteCommand(o.akHandle, o.akType, o.nonce, o.sel)));
    q = { ...signed, pcrs: await readPcrs(c, o.sel) };
    if (coversValues(q.quoted, q.pcrs)) break;
  }
  return { quoted: q!.quoted.toString('base64'), signature: q!.signature.toString('base64'), pcrs: q!.pcrs };
}

/**
 * Runs one command authorised by a fresh EK policy session (PolicySecret on the endorsement
 * hierarchy, the EK template's policy). The command clears continueSession, so the TPM flushes the
 * session when it succeeds; on any failure the session is flushed here before the error goes on.
 */
async function withEkPolicy<T>(c: TpmConnection, command: (session: number) => Promise<T>): Promise<T> {
  const session = parseStartAuthSessionResponse(await submit(c, startPolicySessionCommand(randomBytes(32))));
  try {
    parsePolicySecretResponse(await submit(c, policySecretEndorsementCommand(session)));
    return await command(session);
  } catch (e) {
    await submit(c, flushContextCommand(session)).then(parseFlushContextResponse).catch(() => undefined);
    throw e;
  }
}

/** TPM2_ActivateCredential with the AK and the EK, the EK authorised by its policy session. */
export async function nativeActivate(c: TpmConnection, o: { akHandle: number; ekHandle: number; credentialBlob: Buffer; secret: Buffer }): Promise<Buffer> {
  return withEkPolicy(c, async (session) =>
    parseActivateCredentialResponse(await submit(c, activateCredentialCommand({ ...o, session, nonceCaller: randomBytes(32) }))));
}

/**
 * Creates the AK under the persistent EK and persists it at `akHandle` (what tpm2_createak and
 * tpm2_evictcontrol do): TPM2_Create and TPM2_Load, each with its own EK policy session, then
 * TPM2_EvictControl by the owner. The transient copy is flushed whatever happened. Returns the
 * TPM2B_PUBLIC TPM2_Create reported (the caller reads the persisted AK back to confirm it).
 */
export async function nativeCreateAk(c: TpmConnection, o: { ekHandle: number; akHandle: number; akType: 'rsa' | 'ecc' }): Promise<Buffer> {
  const template = akTemplate(o.akType);
  const created = await withEkPolicy(c, async (session) =>
    parseCreateResponse(await submit(c, createCommand({ parent: o.ekHandle, session, nonceCaller: randomBytes(32), template }))));
  const loaded = await withEkPolicy(c, async (session) =>
    parseLoadResponse(await submit(c, loadCommand({ parent: o.ekHandle, session, nonceCaller: randomBytes(32), ...created }))));
  try {
    parseEvictControlResponse(await submit(c, evictControlCommand(loaded, o.akHandle)));
  } finally {
    await submit(c, flushContextCommand(loaded)).then(parseFlushContextResponse).catch(() => undefined);
  }
  return created.outPublic;
}

/** TPM2_ReadPublic of a persistent handle; undefined when nothing is there. */
export async function nativeReadPublic(c: TpmConnection, handle: number): Promise<{ tpm2bPublic: Buffer; name: Buffer } | undefined> {
  try {
    return parseReadPublicResponse(await submit(c, readPublicCommand(handle)));
  } catch (e) {
    if (isNoObjectAt(e)) return undefined;
    throw e;
  }
}

/**
 * Flushes every transient object and every loaded or saved session (what tpm2_flushcontext -t, -l
 * and -s do), listing each range with TPM2_GetCapability. Returns how many were flushed.
 */
export async function nativeFlushAll(c: TpmConnection): Promise<number> {
  let flushed = 0;
  for (const first of Object.values(HANDLE_RANGES)) {
    // Each pass flushes what it listed, so the next listing starts over from the range's first handle.
    for (let pass = 0; pass < 16; pass++) {
      // Only handles of the range's type come back; saved sessions are listed by their 0x02 handles.
      const { handles } = parseHandlesResponse(await submit(c, getCapabilityCommand('handles', first)));
      for (const h of handles) parseFlushContextResponse(await submit(c, flushContextCommand(h)));
      flushed += handles.length;
      if (handles.length === 0) break;
    }
  }
  return flushed;
}

/** The fixed TPM properties (TPM_PT → raw value), as tpm2_getcap properties-fixed lists them. */
export async function nativeFixedProperties(c: TpmConnection): Promise<Map<number, number>> {
  return parsePropertiesResponse(await submit(c, getCapabilityCommand('properties', TPM_PT_FIXED)));
}

/**
 * The whole content of an NV index (an EK certificate), read in chunks with the empty password of the
 * index or the owner; undefined when the index does not exist or allows no such read.
 */
export async function nativeNvRead(c: TpmConnection, index: number): Promise<Buffer | undefined> {
  let pub: { size: number; authHandle: number | undefined };
  try {
    pub = parseNvReadPublicResponse(index, await submit(c, nvReadPublicCommand(index)));
  } catch (e) {
    if (isNoObjectAt(e)) return undefined;
    throw e;
  }
  const { authHandle } = pub;
  if (authHandle === undefined) return undefined;
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < pub.size; offset += NV_READ_CHUNK) {
    const n = Math.min(NV_READ_CHUNK, pub.size - offset);
    chunks.push(parseNvReadResponse(await submit(c, nvReadCommand(authHandle, index, n, offset)), n));
  }
  return Buffer.concat(chunks);
}
