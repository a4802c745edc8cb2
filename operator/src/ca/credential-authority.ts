import type { Cluster } from '../kube/cluster.js';
import { buildCrl, crlEntries, crlNeedsResigning, generateCa, issueNodeCredential, loadCa, type Ca, type IssuedCredential, type RevokedSerial } from './ca.js';

export const CA_SECRET = 'nodeward-ca';
export const CRL_CONFIGMAP = 'nodeward-crl';
export const CRL_KEY = 'crl.pem';
export const credentialSecretName = (nodeName: string): string => `nodeward-credential-${nodeName}`;

const ANN = { serial: 'attestation.nodeward.io/serial', notAfter: 'attestation.nodeward.io/not-after', akName: 'attestation.nodeward.io/ak-name', delivered: 'attestation.nodeward.io/delivered' } as const;

export interface StoredCredential {
  serial: string;
  notAfter: Date;
  akName: string;
  delivered: boolean;
  certificatePem: string;
  privateKeyPem: string;
}

type Store = Pick<Cluster, 'getSecret' | 'createSecret' | 'applySecret' | 'deleteSecret' | 'getConfigMap' | 'applyConfigMap'>;

export interface CredentialAuthorityOptions {
  namespace: string;
  ttlMs: number;
  /** thisUpdate to nextUpdate of the published CRL; default the credential lifetime, at least 1 h. */
  crlLifetimeMs?: number;
  now?: () => Date;
}

/** How often the leader should call refreshCrl(): often enough to re-sign near half the lifetime. */
export const crlRefreshPeriodMs = (crlLifetimeMs: number): number => Math.max(1_000, Math.min(60_000, Math.floor(crlLifetimeMs / 10)));

/**
 * Node credentials backed by Kubernetes objects: the CA in Secret nodeward-ca (created if
 * missing; the first writer wins), each node's credential in Secret nodeward-credential-<node>
 * (serial, expiry, AK Name, delivery in annotations), the CRL in ConfigMap nodeward-crl.
 * Revocation is idempotent and crash-safe: the serial goes into the CRL first (once), then the
 * Secret is deleted, so a re-run after a crash finds either nothing to do or only the deletion.
 */
export class CredentialAuthority {
  private ca: Ca | undefined;
  private crl: string | undefined;
  private revoked: RevokedSerial[] = [];
  /** Serialises CRL read-modify-write within this process. */
  private crlLock: Promise<unknown> = Promise.resolve();
  private readonly now: () => Date;
  readonly crlLifetimeMs: number;

  constructor(private readonly store: Store, private readonly o: CredentialAuthorityOptions) {
    this.now = o.now ?? (() => new Date());
    this.crlLifetimeMs = o.crlLifetimeMs ?? Math.max(o.ttlMs, 3_600_000);
  }

  /** Load (or create) the CA and the published CRL. */
  async start(): Promise<void> {
    this.ca = await this.loadOrCreateCa();
    const cm = await this.store.getConfigMap(this.o.namespace, CRL_CONFIGMAP);
    const pem = cm?.data?.[CRL_KEY];
    this.revoked = pem === undefined ? [] : crlEntries(pem);
    if (pem === undefined) await this.publish();
    else this.crl = pem;
  }

  caPem(): string {
    return this.requireCa().certPem;
  }
  crlPem(): string | undefined {
    return this.crl;
  }
  isRevoked(serial: string): boolean {
    return this.revoked.some((r) => r.serial === serial.toLowerCase());
  }

  async current(nodeName: string): Promise<StoredCredential | undefined> {
    const s = await this.store.getSecret(this.o.namespace, credentialSecretName(nodeName));
    if (s === undefined) return undefined;
    return {
      serial: s.annotations[ANN.serial] ?? '',
      notAfter: new Date(s.annotations[ANN.notAfter] ?? 0),
      akName: s.annotations[ANN.akName] ?? '',
      delivered: s.annotations[ANN.delivered] === 'true',
      certificatePem: s.data['tls.crt'] ?? '',
      privateKeyPem: s.data['tls.key'] ?? '',
    };
  }

  /** Issue a new credential and keep it in the node's Secret (not yet delivered). */
  async issue(nodeName: string, akName: string): Promise<IssuedCredential> {
    const cred = await issueNodeCredential(this.requireCa(), { nodeName, akName, now: this.now(), ttlMs: this.o.ttlMs });
    await this.store.applySecret(this.o.namespace, credentialSecretName(nodeName), this.secretData(cred), {
      labels: { 'app.kubernetes.io/managed-by': 'nodeward', 'attestation.nodeward.io/node': nodeName },
      annotations: { [ANN.serial]: cred.serial, [ANN.notAfter]: cred.notAfter.toISOString(), [ANN.akName]: akName, [ANN.delivered]: 'false' },
    });
    return cred;
  }

  /** Record that the agent has the credential with this serial. */
  async markDelivered(nodeName: string, c: StoredCredential): Promise<void> {
    await this.store.applySecret(this.o.namespace, credentialSecretName(nodeName), { 'tls.crt': c.certificatePem, 'tls.key': c.privateKeyPem, 'ca.crt': this.caPem() }, {
      labels: { 'app.kubernetes.io/managed-by': 'nodeward', 'attestation.nodeward.io/node': nodeName },
      annotations: { [ANN.serial]: c.serial, [ANN.notAfter]: c.notAfter.toISOString(), [ANN.akName]: c.akName, [ANN.delivered]: 'true' },
    });
  }

  /**
   * Revoke the node's credential if it has one: serial into the CRL (published), then delete the
   * Secret. Resolves the revoked serial, or undefined when there was nothing to revoke.
   */
  async revoke(nodeName: string): Promise<string | undefined> {
    const cur = await this.current(nodeName);
    if (cur === undefined) return undefined;
    if (cur.serial !== '' && !this.isRevoked(cur.serial)) await this.addToCrl(cur.serial);
    const deleted = await this.store.deleteSecret(this.o.namespace, credentialSecretName(nodeName));
    return deleted ? cur.serial : undefined;
  }

  /**
   * Sign and publish the CRL again once half its lifetime has passed (the leader calls this every
   * crlRefreshPeriodMs), so it never passes nextUpdate even when nothing is revoked. Resolves
   * whether it was re-signed.
   */
  refreshCrl(): Promise<boolean> {
    return this.withCrlLock(async () => {
      const pem = await this.readPublishedCrl();
      if (pem !== undefined && !crlNeedsResigning(pem, this.now())) {
        this.crl = pem;
        return false;
      }
      this.dropExpiredEntries();
      await this.publish();
      return true;
    });
  }

  /**
   * A replica that is not the leader serves the CRL the leader last published (GET /crl): re-read
   * it on the same tick the leader refreshes on, so a follower never serves one past nextUpdate.
   */
  reloadCrl(): Promise<void> {
    return this.withCrlLock(async () => {
      const pem = await this.readPublishedCrl();
      if (pem !== undefined) this.crl = pem;
    });
  }

  private addToCrl(serial: string): Promise<void> {
    return this.withCrlLock(async () => {
      await this.readPublishedCrl();
      if (this.isRevoked(serial)) return;
      this.dropExpiredEntries();
      this.revoked = [...this.revoked, { serial: serial.toLowerCase(), revokedAt: this.now() }];
      await this.publish();
    });
  }

  /** Re-read the published CRL and its entries: another replica may have published since we loaded. */
  private async readPublishedCrl(): Promise<string | undefined> {
    const cm = await this.store.getConfigMap(this.o.namespace, CRL_CONFIGMAP);
    const pem = cm?.data?.[CRL_KEY];
    if (pem !== undefined) this.revoked = crlEntries(pem);
    return pem;
  }

  /** Entries older than a credential lifetime cover only expired certificates. */
  private dropExpiredEntries(): void {
    const horizon = this.now().getTime() - this.o.ttlMs - 3_600_000;
    this.revoked = this.revoked.filter((r) => r.revokedAt.getTime() > horizon);
  }

  private withCrlLock<T>(f: () => Promise<T>): Promise<T> {
    const run = this.crlLock.then(f);
    this.crlLock = run.catch(() => undefined);
    return run;
  }

  private async publish(): Promise<void> {
    const pem = await buildCrl(this.requireCa(), this.revoked, this.now(), this.crlLifetimeMs);
    await this.store.applyConfigMap(this.o.namespace, CRL_CONFIGMAP, { [CRL_KEY]: pem });
    this.crl = pem;
  }

  private secretData(c: IssuedCredential): Record<string, string> {
    return { 'tls.crt': c.certificatePem, 'tls.key': c.privateKeyPem, 'ca.crt': this.caPem() };
  }

  private requireCa(): Ca {
    if (this.ca === undefined) throw new Error('CredentialAuthority.start() was not called');
    return this.ca;
  }

  private async loadOrCreateCa(): Promise<Ca> {
    const existing = await this.store.getSecret(this.o.namespace, CA_SECRET);
    if (existing?.data['tls.crt'] && existing.data['tls.key']) return loadCa({ certPem: existing.data['tls.crt'], keyPem: existing.data['tls.key'] });
    const m = await generateCa('nodeward-ca', this.now());
    const created = await this.store.createSecret(this.o.namespace, CA_SECRET, { 'tls.crt': m.certPem, 'tls.key': m.keyPem });
    if (created) return loadCa(m);
    const winner = await this.store.getSecret(this.o.namespace, CA_SECRET);
    return loadCa({ certPem: winner?.data['tls.crt'] ?? '', keyPem: winner?.data['tls.key'] ?? '' });
  }
}
