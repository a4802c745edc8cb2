import type { Cluster } from '../kube/cluster.js';
import type { Identity } from '../status/resources.js';

/**
 * One TPM, one node. A claim is a Secret in the operator's namespace whose name is derived from the
 * key (`nodeward-claim-ek-<EK fingerprint>`, `nodeward-claim-ak-<AK Name>`) and whose data names the
 * node holding it. The API server's create is atomic (a second create of the name is AlreadyExists),
 * so two reconciles or two replicas racing to bind one EK to two nodes cannot both win: the claim is
 * the record of truth, not the informer caches, which may lag. Secrets, not Redis: the binding must
 * outlive Redis (which holds only rebuildable round state), and the operator already owns Secrets
 * in its namespace, where kubelets (Node authorizer) cannot read or write.
 */
export const CLAIM_NODE_KEY = 'node';

export const claimNames = (id: Pick<Identity, 'ekCertificateFingerprint' | 'akName'>): string[] =>
  [`nodeward-claim-ek-${id.ekCertificateFingerprint}`, `nodeward-claim-ak-${id.akName.toLowerCase()}`];

/** What to do with a claim another create found in place. Pure. */
export type ClaimDecision = 'ours' | 'taken' | 'stale';

/**
 * A claim held by `holder`: ours when it names us; stale when the holder's NodeAttestation is really
 * gone (a live read, not a cache), so it may be replaced; otherwise taken (the newcomer fails).
 */
export function decideClaim(holder: string, claimant: string, holderAttested: boolean): ClaimDecision {
  if (holder === claimant) return 'ours';
  return holderAttested ? 'taken' : 'stale';
}

export type ClaimResult = { ok: true } | { ok: false; holder: string };

type Store = Pick<Cluster, 'getSecret' | 'createSecret' | 'deleteSecret' | 'getNodeAttestation'>;

export class IdentityClaims {
  constructor(private readonly store: Store, private readonly namespace: string) {}

  /** Claim the EK and the AK for `nodeName`; the first key held by another node fails the claim. */
  async claim(nodeName: string, id: Pick<Identity, 'ekCertificateFingerprint' | 'akName'>): Promise<ClaimResult> {
    for (const name of claimNames(id)) {
      const r = await this.claimOne(name, nodeName);
      if (!r.ok) return r;
    }
    return { ok: true };
  }

  /** The node holding a claim on this identity other than `nodeName`, if any (no write). */
  async otherHolder(nodeName: string, id: Pick<Identity, 'ekCertificateFingerprint' | 'akName'>): Promise<string | undefined> {
    for (const name of claimNames(id)) {
      const holder = (await this.store.getSecret(this.namespace, name))?.data[CLAIM_NODE_KEY];
      if (holder !== undefined && holder !== nodeName) return holder;
    }
    return undefined;
  }

  /**
   * Release `nodeName`'s claims on this identity, only once its NodeAttestation is really gone (a
   * live read), and only the version read (compare-and-delete): a claim retaken meanwhile stays.
   */
  async release(nodeName: string, id: Pick<Identity, 'ekCertificateFingerprint' | 'akName'>): Promise<void> {
    if (await this.store.getNodeAttestation(nodeName) !== undefined) return;
    await this.drop(nodeName, id);
  }

  /** Drop `nodeName`'s claims on an identity it no longer holds (an approved identity change), keeping those of `kept`. */
  async drop(nodeName: string, id: Pick<Identity, 'ekCertificateFingerprint' | 'akName'>, kept?: Pick<Identity, 'ekCertificateFingerprint' | 'akName'>): Promise<void> {
    const keep = new Set(kept === undefined ? [] : claimNames(kept));
    for (const name of claimNames(id).filter((n) => !keep.has(n))) {
      const cur = await this.store.getSecret(this.namespace, name);
      if (cur?.data[CLAIM_NODE_KEY] === nodeName) await this.store.deleteSecret(this.namespace, name, cur.resourceVersion ?? '');
    }
  }

  private async claimOne(name: string, nodeName: string): Promise<ClaimResult> {
    // Bounded: each pass either creates, finds a holder, or removes one stale version.
    for (let attempt = 0; attempt < 4; attempt++) {
      const created = await this.store.createSecret(this.namespace, name, { [CLAIM_NODE_KEY]: nodeName }, {
        labels: { 'app.kubernetes.io/managed-by': 'nodeward', 'attestation.nodeward.io/node': nodeName },
      });
      if (created) return { ok: true };
      const cur = await this.store.getSecret(this.namespace, name);
      const holder = cur?.data[CLAIM_NODE_KEY];
      if (cur === undefined || holder === undefined) continue;
      const decision = decideClaim(holder, nodeName, await this.store.getNodeAttestation(holder) !== undefined);
      switch (decision) {
        case 'ours':
          return { ok: true };
        case 'taken':
          return { ok: false, holder };
        case 'stale':
          await this.store.deleteSecret(this.namespace, name, cur.resourceVersion ?? '');
      }
    }
    throw new Error(`identity claim ${name} kept changing; retried`);
  }
}
