import { JOIN_PROOF_ANNOTATION, MAX_JOIN_PROOF_CHARS, type Failure, type JoinProof } from '@nodeward/attest';
import { parseQuoteResponse } from '../agent-client/parse-agent-response.js';
import { joinFailure } from './join-failure.js';

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export type JoinProofParse = { ok: true; proof: JoinProof } | { ok: false; failure: Failure };

/**
 * The proof annotation of a CSR, shape-checked (size first, then JSON, then every field). Untrusted
 * still: only verification believes any of it. Never throws. Pure.
 */
export function parseJoinProof(annotations: Readonly<Record<string, string>>): JoinProofParse {
  const text = annotations[JOIN_PROOF_ANNOTATION];
  if (text === undefined) {
    return { ok: false, failure: joinFailure('ProofMissing', `no ${JOIN_PROOF_ANNOTATION} annotation: a bootstrap token alone never gets a kubelet identity`) };
  }
  if (text.length > MAX_JOIN_PROOF_CHARS) return malformed(`the proof is ${text.length} characters, over ${MAX_JOIN_PROOF_CHARS}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return malformed('the proof is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return malformed('the proof is not an object');
  return proofFields(v as Record<string, unknown>);
}

function proofFields(o: Record<string, unknown>): JoinProofParse {
  const joinRequest = o['joinRequest'];
  const secret = o['secret'];
  const eventLog = o['eventLog'];
  if (typeof joinRequest !== 'string' || !NAME_RE.test(joinRequest)) return malformed('joinRequest is not an object name');
  if (!isB64(secret, 64)) return malformed('secret is not base64 of at most 48 bytes');
  if (eventLog !== undefined && !isB64(eventLog, MAX_JOIN_PROOF_CHARS)) return malformed('eventLog is not base64');
  try {
    const proof: JoinProof = { joinRequest, secret, quote: parseQuoteResponse(o['quote'], 'proof.quote') };
    return { ok: true, proof: eventLog === undefined ? proof : { ...proof, eventLog } };
  } catch (e) {
    return malformed(e instanceof Error ? e.message : String(e));
  }
}

function isB64(v: unknown, maxLen: number): v is string {
  return typeof v === 'string' && v.length <= maxLen && v.length % 4 === 0 && B64_RE.test(v);
}

function malformed(message: string): JoinProofParse {
  return { ok: false, failure: joinFailure('ProofMalformed', message) };
}
