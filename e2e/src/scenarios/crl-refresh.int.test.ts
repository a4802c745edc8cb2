import * as x509 from '@peculiar/x509';
import { execFileSync } from 'node:child_process';
import { sleep } from '../harness/wait.js';
import type { OperatorProcess } from '../stack/operator-process.js';
import { NODEWARD_NAMESPACE } from '../stack/policy.js';
import { startStack, waitFor, type Stack } from '../stack/stack.js';

const LIFETIME_MS = 10_000;

/**
 * The CRL is re-signed by the leader before its nextUpdate although nothing is revoked (a 10 s
 * lifetime here instead of the default hour), and both replicas serve the current one on GET /crl,
 * as PEM `X509 CRL` that OpenSSL reads.
 */
describe('the published CRL', () => {
  let stack: Stack;
  let ops: OperatorProcess[];

  beforeAll(async () => {
    stack = await startStack();
    const env = { NODEWARD_CRL_LIFETIME_MS: String(LIFETIME_MS) };
    ops = [await stack.startOperator('nodeward-operator-a', env), await stack.startOperator('nodeward-operator-b', env)];
  }, 180_000);
  afterAll(async () => { await stack?.stop(); }, 60_000);

  const published = async (): Promise<string | undefined> => {
    const out = await stack.kubectl(['get', 'configmap', '-n', NODEWARD_NAMESPACE, 'nodeward-crl', '--ignore-not-found', '-o', 'json']);
    return out.trim() === '' ? undefined : (JSON.parse(out) as { data?: Record<string, string> }).data?.['crl.pem'];
  };
  const served = async (op: OperatorProcess): Promise<string> => (await fetch(`http://127.0.0.1:${op.httpPort}/crl`)).text();

  it('is re-signed before nextUpdate without revocations, and every replica serves a current one', async () => {
    await waitFor('the CRL published', published, 60_000, 200);
    await Promise.all(ops.map((op) => waitFor(`${op.identity} serving the CRL`, async () => (await fetch(`http://127.0.0.1:${op.httpPort}/crl`)).ok, 60_000, 200)));
    const thisUpdates = new Set<number>();
    const expired: string[] = [];
    const deadline = Date.now() + 2.5 * LIFETIME_MS;
    while (Date.now() < deadline) {
      for (const [source, pem] of [['configmap', await published()], ...await Promise.all(ops.map(async (op) => [op.identity, await served(op)] as const))] as const) {
        const crl = new x509.X509Crl(pem ?? '');
        expect(pem).toMatch(/^-----BEGIN X509 CRL-----\n/);
        if (source === 'configmap') thisUpdates.add(crl.thisUpdate.getTime());
        if ((crl.nextUpdate?.getTime() ?? 0) <= Date.now()) expired.push(`${source}: nextUpdate ${crl.nextUpdate?.toISOString() ?? 'none'}`);
      }
      await sleep(500);
    }
    expect(expired).toEqual([]);
    // Re-signed about every half lifetime over 2.5 lifetimes.
    expect(thisUpdates.size).toBeGreaterThanOrEqual(3);
    const text = execFileSync('openssl', ['crl', '-noout', '-text'], { input: await served(ops[1]!), encoding: 'utf8' });
    expect(text).toContain('Certificate Revocation List (CRL)');
    expect(text).toContain('No Revoked Certificates.');
  }, 120_000);
});
