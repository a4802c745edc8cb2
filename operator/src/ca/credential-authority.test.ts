import * as x509 from '@peculiar/x509';
import { MemoryCluster } from '../kube/memory-cluster.js';
import { crlEntries } from './ca.js';
import { CRL_CONFIGMAP, CRL_KEY, CredentialAuthority, crlRefreshPeriodMs } from './credential-authority.js';

const NS = 'nodeward-system';
const akName = '000b' + 'ef'.repeat(32);
const published = (c: MemoryCluster): string => c.configMaps.get(`${NS}/${CRL_CONFIGMAP}`)?.[CRL_KEY] ?? '';

describe('CredentialAuthority CRL', () => {
  it('re-signs the CRL before nextUpdate without any revocation, keeping its entries', async () => {
    const cluster = new MemoryCluster();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const ca = new CredentialAuthority(cluster, { namespace: NS, ttlMs: 600_000, crlLifetimeMs: 60_000, now: () => new Date(clock.t) });
    await ca.start();
    await ca.issue('n1', akName);
    const serial = await ca.revoke('n1');
    const first = new x509.X509Crl(published(cluster));
    expect(first.nextUpdate!.getTime() - first.thisUpdate.getTime()).toBe(60_000);
    // The leader's refresh tick, as main.ts runs it: every crlRefreshPeriodMs until well past the first nextUpdate.
    const period = crlRefreshPeriodMs(ca.crlLifetimeMs);
    const signedAt: number[] = [];
    for (let i = 0; i < 20; i++) {
      clock.t += period;
      if (await ca.refreshCrl()) signedAt.push(clock.t);
      const crl = new x509.X509Crl(published(cluster));
      expect(crl.nextUpdate!.getTime()).toBeGreaterThan(clock.t); // never expired
      expect(ca.crlPem()).toBe(published(cluster));
    }
    expect(signedAt.length).toBeGreaterThanOrEqual(3);
    const t0 = first.thisUpdate.getTime();
    expect(signedAt[0]! - t0).toBeGreaterThanOrEqual(30_000); // not before half the lifetime
    expect(signedAt[0]! - t0).toBeLessThan(60_000); // before nextUpdate
    expect(crlEntries(published(cluster)).map((e) => e.serial)).toEqual([serial]);
  });

  it('lets a follower serve the CRL the leader re-signed once it reloads', async () => {
    const cluster = new MemoryCluster();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const opts = { namespace: NS, ttlMs: 600_000, crlLifetimeMs: 60_000, now: (): Date => new Date(clock.t) };
    const leader = new CredentialAuthority(cluster, opts);
    await leader.start();
    const follower = new CredentialAuthority(cluster, opts);
    await follower.start();
    expect(follower.crlPem()).toBe(leader.crlPem());
    clock.t += 40_000;
    expect(await leader.refreshCrl()).toBe(true);
    expect(follower.crlPem()).not.toBe(leader.crlPem());
    await follower.reloadCrl();
    expect(follower.crlPem()).toBe(leader.crlPem());
  });

  it('replaces a CRL published with the legacy PEM label at the next refresh', async () => {
    const cluster = new MemoryCluster();
    const ca = new CredentialAuthority(cluster, { namespace: NS, ttlMs: 600_000 });
    await ca.start();
    cluster.configMaps.set(`${NS}/${CRL_CONFIGMAP}`, { [CRL_KEY]: published(cluster).replace(/X509 CRL/g, 'CRL') });
    expect(await ca.refreshCrl()).toBe(true);
    expect(published(cluster)).toMatch(/^-----BEGIN X509 CRL-----\n/);
    expect(await ca.refreshCrl()).toBe(false);
  });
});
