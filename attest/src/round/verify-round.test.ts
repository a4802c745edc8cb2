import { createHash, randomBytes } from 'node:crypto';
import { createSoftAk, softExtend, softQuote, type SoftAk } from '../../../e2e/src/sim/soft-tpm.js';
import type { PcrValues } from '../pcr.js';
import { compileRuntimePolicy, createRuntimePolicy, parseImaBinaryLog } from '../index.js';
import { efiBootApplicationEvent, encodeEventLog, encodeImaNgEntry, eventLogPcrs, grubKernelCmdlineEvent, secureBootEvent, separatorEvent, type EncodedImaEntry, type EventLogSpec } from '../testing/index.js';
import { assumeVerified } from '../testing/index.js';
import { bootAggregates } from './boot-pcrs.js';
import type { RoundEvidence, RoundPolicy, RoundState } from './round-types.js';
import { imaResumePoint, verifyRound } from './verify-round.js';

const ROOT_HASH = 'ab'.repeat(32);
const BANKS = ['sha1', 'sha256'] as const;

/** A simulated node in software: boot log, PCRs, IMA list, and a soft AK that quotes them. */
class Node {
  readonly ak: SoftAk;
  pcrs: PcrValues = {};
  ima: EncodedImaEntry[] = [];
  bootLog: Uint8Array = new Uint8Array();
  resetCount = 0;
  verity: RoundEvidence['verity'] = [{ name: 'root', rootHash: ROOT_HASH, status: 'verified' }];

  constructor(opts: { secureBoot?: boolean; cmdline?: string } = {}, ak?: SoftAk) {
    this.ak = ak ?? createSoftAk('rsassa');
    this.boot(opts);
  }

  boot(opts: { secureBoot?: boolean; cmdline?: string } = {}): void {
    const spec: EventLogSpec = { banks: [...BANKS], events: [
      secureBootEvent(opts.secureBoot ?? true), separatorEvent(7),
      efiBootApplicationEvent(Buffer.from('shim')),
      grubKernelCmdlineEvent(opts.cmdline ?? `/vmlinuz ro roothash=${ROOT_HASH}`),
    ] };
    this.bootLog = encodeEventLog(spec);
    const replayed = eventLogPcrs(spec);
    this.pcrs = {};
    for (const bank of BANKS) {
      const values: Record<string, Uint8Array> = {};
      for (let i = 0; i <= 10; i++) values[String(i)] = Buffer.from(replayed[bank]?.[String(i)] ?? '00'.repeat(bank === 'sha1' ? 20 : 32), 'hex');
      this.pcrs[bank] = values;
    }
    this.ima = [];
    const agg = bootAggregates(assumeVerified(this.pcrs))[0]!;
    this.measure(encodeImaNgEntry({ path: 'boot_aggregate', fileDigest: Buffer.from(agg, 'hex') }));
  }

  reboot(opts: { secureBoot?: boolean; cmdline?: string } = {}): void {
    this.resetCount++;
    this.boot(opts);
  }

  measure(e: EncodedImaEntry): void {
    this.ima.push(e);
    for (const bank of BANKS) {
      this.pcrs[bank]!['10'] = softExtend(bank, this.pcrs[bank]!['10']!, createHash(bank).update(e.hashInput).digest());
    }
  }

  run(path: string, contents = path): void {
    this.measure(encodeImaNgEntry({ path, fileDigest: createHash('sha256').update(contents).digest() }));
  }

  evidence(state: RoundState | undefined, overrides: Partial<RoundEvidence> & { quoteNonce?: Uint8Array } = {}): RoundEvidence {
    const nonce = randomBytes(32);
    // As the worker does: after a reboot (resetCount moved) the IMA list is fetched from the start.
    const from = state !== undefined && state.resetCount === this.resetCount ? state.ima.count : 0;
    const { quoted, signature } = softQuote(this.ak, overrides.quoteNonce ?? nonce, this.pcrs, { resetCount: this.resetCount, restartCount: 0 });
    return {
      nonce, quote: { quoted, signature, pcrs: this.pcrs },
      ima: { from, total: this.ima.length, entries: Buffer.concat(this.ima.slice(from).map((e) => e.bytes)) },
      eventLog: this.bootLog, verity: this.verity,
      ...overrides,
    };
  }
}

function policyFor(node: Node, knownGood: string[] = ['/usr/bin/kubelet']): RoundPolicy {
  const probe = new Node({}, node.ak);
  for (const p of knownGood) probe.run(p);
  const entries = parseImaBinaryLog(Buffer.concat(probe.ima.map((e) => e.bytes)));
  return {
    akPublic: node.ak.publicArea,
    pcrSelection: { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
    ima: compileRuntimePolicy(createRuntimePolicy(entries)),
    bootPolicy: { secureBootRequired: true, requiredKernelCmdline: ['roothash='] },
    verity: { devices: [{ name: 'root', allowedRootHashes: [ROOT_HASH] }] },
  };
}

const ids = (v: { failures: { id: string }[] }): string[] => [...new Set(v.failures.map((f) => f.id))].sort();

describe('verifyRound', () => {
  it('trusts a clean node and records the state for the next round', () => {
    const node = new Node();
    node.run('/usr/bin/kubelet');
    const v = verifyRound(node.evidence(undefined), policyFor(node), undefined);
    expect(ids(v)).toEqual([]);
    expect(v.trusted).toBe(true);
    expect(v.nextState.ima.count).toBe(2);
    expect(v.nextState.bootPcrsDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(v.nextState.kernelCmdlines?.[0]).toContain(`roothash=${ROOT_HASH}`);
  });

  it('verifies only new IMA entries incrementally and without the event log when boot PCRs are unchanged', () => {
    const node = new Node();
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    node.run('/usr/bin/kubelet');
    const ev = node.evidence(first.nextState, { eventLog: undefined });
    expect(ev.ima!.from).toBe(1);
    const second = verifyRound(ev, policy, first.nextState);
    expect(ids(second)).toEqual([]);
    expect(second.nextState.ima.count).toBe(2);
  });

  it('replays IMA in the quoted bank only, and starts again from entry 0 when the policy moves to another bank', () => {
    const node = new Node();
    node.run('/usr/bin/kubelet');
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    expect(first.nextState.ima.pcr10).toEqual({ sha256: Buffer.from(node.pcrs.sha256!['10']!).toString('hex') });
    expect(imaResumePoint(first.nextState, 'sha256')).toBe(2);
    expect(imaResumePoint(first.nextState, 'sha1')).toBe(0);
    expect(imaResumePoint(undefined, 'sha256')).toBe(0);
    const sha1Policy: RoundPolicy = { ...policy, pcrSelection: { sha1: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } };
    const sha1Round = (from: number): RoundEvidence => {
      const nonce = randomBytes(32);
      const pcrs = { sha1: node.pcrs.sha1! };
      const q = softQuote(node.ak, nonce, pcrs, { resetCount: node.resetCount, restartCount: 0 });
      return { nonce, quote: { ...q, pcrs }, eventLog: node.bootLog, verity: node.verity,
        ima: { from, total: node.ima.length, entries: Buffer.concat(node.ima.slice(from).map((e) => e.bytes)) } };
    };
    const resumed = verifyRound(sha1Round(2), sha1Policy, first.nextState);
    expect(ids(resumed)).toEqual(['ima.bank_not_replayed']);
    expect(resumed.nextState.ima).toEqual(first.nextState.ima);
    const restarted = verifyRound(sha1Round(0), sha1Policy, first.nextState);
    expect(ids(restarted)).toEqual([]);
    expect(restarted.nextState.ima).toEqual({ count: 2, pcr10: { sha1: Buffer.from(node.pcrs.sha1!['10']!).toString('hex') } });
  });

  it.each([
    ['an unknown executable', (n: Node) => n.run('/tmp/miner'), ['ima.path_not_in_policy']],
    ['a known path with another digest', (n: Node) => n.run('/usr/bin/kubelet', 'trojan'), ['ima.digest_not_allowed']],
    ['dm-verity corruption at runtime', (n: Node) => { n.verity = [{ name: 'root', rootHash: ROOT_HASH, status: 'corrupted' }]; }, ['verity.corrupted']],
    ['secure boot disabled', (n: Node) => n.reboot({ secureBoot: false }), ['bootlog.secure_boot_disabled']],
    ['another kernel command line (root hash changed)', (n: Node) => n.reboot({ cmdline: `/vmlinuz roothash=${'cd'.repeat(32)}` }),
      ['verity.roothash_mismatch', 'verity.roothash_not_allowed']],
  ])('rejects %s and lists the failure', (_name, attack, expected) => {
    const node = new Node();
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    attack(node);
    const v = verifyRound(node.evidence(first.nextState), policy, first.nextState);
    expect(v.trusted).toBe(false);
    expect(ids(v)).toEqual(expected);
  });

  it('keeps failing on the next round: the state does not advance past a violation', () => {
    const node = new Node();
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    node.run('/tmp/miner');
    const bad = verifyRound(node.evidence(first.nextState), policy, first.nextState);
    expect(bad.nextState.ima.count).toBe(first.nextState.ima.count);
    const again = verifyRound(node.evidence(bad.nextState, { eventLog: undefined }), policy, bad.nextState);
    expect(ids(again)).toEqual(['ima.path_not_in_policy']);
  });

  it('lists every failure of a round, not only the first', () => {
    const node = new Node();
    const policy = policyFor(node);
    node.run('/tmp/miner');
    node.verity = [{ name: 'root', rootHash: ROOT_HASH, status: 'corrupted' }];
    expect(ids(verifyRound(node.evidence(undefined), policy, undefined))).toEqual(['ima.path_not_in_policy', 'verity.corrupted']);
  });

  it('rejects a replayed quote (nonce reuse) and trusts nothing else in it', () => {
    const node = new Node();
    node.run('/tmp/miner');
    const v = verifyRound(node.evidence(undefined, { quoteNonce: randomBytes(32) }), policyFor(node), undefined);
    expect(ids(v)).toEqual(['quote.nonce_mismatch']);
  });

  it('rejects a quote from another TPM (impersonation)', () => {
    const node = new Node();
    const impostor = new Node({}, createSoftAk('ecdsa'));
    const v = verifyRound(impostor.evidence(undefined), policyFor(node), undefined);
    expect(v.trusted).toBe(false);
    expect(ids(v)).toEqual(['quote.wrong_signing_key']);
  });

  it('rejects a rewritten IMA entry (PCR 10 no longer matches)', () => {
    const node = new Node();
    node.run('/tmp/miner');
    const policy = policyFor(node);
    const honest = [...node.ima];
    node.ima = [honest[0]!, encodeImaNgEntry({ path: '/usr/bin/kubelet', fileDigest: createHash('sha256').update('/usr/bin/kubelet').digest() })];
    expect(ids(verifyRound(node.evidence(undefined), policy, undefined))).toEqual(['ima.pcr_mismatch']);
  });

  it('flags a log that shrank without a reboot', () => {
    const node = new Node();
    node.run('/usr/bin/kubelet');
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    const ev = node.evidence(first.nextState, { eventLog: undefined });
    ev.ima = { from: 0, total: 1, entries: node.ima[0]!.bytes };
    expect(ids(verifyRound(ev, policy, first.nextState))).toEqual(['ima.log_truncated']);
  });

  it('demands the event log when boot PCRs changed since the last verified one', () => {
    const node = new Node();
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    node.pcrs.sha256!['4'] = softExtend('sha256', node.pcrs.sha256!['4']!, Buffer.alloc(32, 1));
    expect(ids(verifyRound(node.evidence(first.nextState, { eventLog: undefined }), policy, first.nextState))).toEqual(['bootlog.missing']);
  });

  it('starts a fresh full verification after a reboot', () => {
    const node = new Node();
    node.run('/usr/bin/kubelet');
    const policy = policyFor(node);
    const first = verifyRound(node.evidence(undefined), policy, undefined);
    node.reboot();
    const v = verifyRound(node.evidence(undefined), policy, first.nextState);
    expect(ids(v)).toEqual([]);
    expect(v.rebooted).toBe(true);
    expect(v.nextState.resetCount).toBe(1);
    expect(v.nextState.ima.count).toBe(1);
  });

  it('rejects a quote that does not cover the policy PCRs', () => {
    const node = new Node();
    const policy = { ...policyFor(node), pcrSelection: { sha256: [0, 10, 16] } };
    expect(ids(verifyRound(node.evidence(undefined), policy, undefined))).toEqual(['quote.pcr_not_quoted']);
  });

  it('checks expected PCR values from the policy', () => {
    const node = new Node();
    const policy = { ...policyFor(node), expectedPcrs: { sha256: { '0': '11'.repeat(32) } } };
    expect(ids(verifyRound(node.evidence(undefined), policy, undefined))).toEqual(['quote.pcr_unexpected']);
  });

  it('reports garbage evidence as failures, never an exception', () => {
    const node = new Node();
    const policy = policyFor(node);
    const garbage = { ...node.evidence(undefined), eventLog: randomBytes(100), ima: { from: 0, total: 9, entries: randomBytes(77) } };
    expect(ids(verifyRound(garbage, policy, undefined))).toEqual(['bootlog.malformed', 'ima.malformed_log']);
    const badQuote = { ...node.evidence(undefined), quote: { quoted: randomBytes(40), signature: randomBytes(10), pcrs: {} } };
    expect(verifyRound(badQuote, policy, undefined).failures[0]!.id).toMatch(/^quote\./);
  });
});
