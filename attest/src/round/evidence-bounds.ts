import { failure, type Failure } from '../failure.js';

/**
 * Bounds on how much evidence one round takes from an agent, so a node's agent (root on the node
 * is the attacker here) cannot make the verifier download, hold or re-read without limit. Breaking
 * one is an attestation failure with its own id, never "unreachable".
 */
export type EvidenceBoundKind =
  /** The IMA list (or the round answer carrying it) exceeded the operator's byte cap. */
  | 'ImaLogTooLarge'
  /** More than IMA_MAX_UNCOVERED_BYTES of the list lies past the prefix the quote covers. */
  | 'ImaEntriesNotCovered'
  /** The boot event log (or the round answer carrying it) exceeded the byte cap. */
  | 'EventLogTooLarge'
  /** Any other answer exceeded its byte cap. */
  | 'AnswerTooLarge';

export const EVIDENCE_BOUND_FAILURE_IDS = {
  ImaLogTooLarge: 'ima.log_too_large',
  ImaEntriesNotCovered: 'ima.entries_not_covered',
  EventLogTooLarge: 'bootlog.log_too_large',
  AnswerTooLarge: 'agent.answer_too_large',
} as const satisfies Record<EvidenceBoundKind, Failure['id']>;

/**
 * IMA bytes past the quoted prefix that a round accepts. The agent reads the list right after
 * quoting, so an honest tail is what was measured in those milliseconds (an ima-ng entry is
 * ~150 bytes, an ima-sig one ~700): 1 MiB is thousands of entries. A tail that is never covered
 * would otherwise be downloaded again every round.
 */
export const IMA_MAX_UNCOVERED_BYTES = 1024 * 1024;

export function evidenceBoundFailure(kind: EvidenceBoundKind, message: string, context?: Failure['context']): Failure {
  return failure(EVIDENCE_BOUND_FAILURE_IDS[kind], message, context);
}
