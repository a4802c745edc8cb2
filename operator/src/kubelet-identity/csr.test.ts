import 'reflect-metadata';
import { csrViewFrom, MAX_CSR_PEM_BYTES, parseCsrRequest } from './csr.js';
import { buildCsrRequest } from './testing/csr-builder.js';

describe('parseCsrRequest', () => {
  it('reads the subject, SANs and public key of a signed request', async () => {
    const built = await buildCsrRequest({
      subject: 'CN=system:node:node-a, O=system:nodes',
      sans: [{ type: 'dns', value: 'node-a' }, { type: 'ip', value: '10.0.0.5' }, { type: 'email', value: 'x@y.z' }],
    });
    const result = await parseCsrRequest(built.pem);
    if (!result.ok) throw new Error(result.reason);
    expect(result.request.subject).toEqual(['CN=system:node:node-a', 'O=system:nodes']);
    expect(result.request.commonName).toBe('system:node:node-a');
    expect(result.request.organizations).toEqual(['system:nodes']);
    expect(result.request.dnsNames).toEqual(['node-a']);
    expect(result.request.ipAddresses).toEqual(['10.0.0.5']);
    expect(result.request.otherNames).toEqual(['email:x@y.z']);
    expect(Buffer.from(result.request.spkiDer)).toEqual(Buffer.from(built.spkiDer));
    expect(result.request.keyAlgorithm).toBe('ecdsa-p256');
  });

  it('leaves commonName undefined when the subject has two CNs', async () => {
    const built = await buildCsrRequest({ subject: 'CN=system:node:a, CN=system:node:b, O=system:nodes' });
    const result = await parseCsrRequest(built.pem);
    expect(result.ok && result.request.commonName).toBeUndefined();
  });

  it.each([
    ['garbage', 'not a request'],
    ['a PEM of garbage', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'],
    ['an oversized request', `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(MAX_CSR_PEM_BYTES)}\n-----END CERTIFICATE REQUEST-----\n`],
    ['empty', ''],
  ])('refuses %s without throwing', async (_what, pem) => {
    const result = await parseCsrRequest(pem);
    expect(result.ok).toBe(false);
  });

  it('refuses a request whose signature does not match its key', async () => {
    const built = await buildCsrRequest();
    const der = Buffer.from(built.pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5); // inside the signature
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const result = await parseCsrRequest(pem);
    expect(result.ok).toBe(false);
  });
});

describe('csrViewFrom', () => {
  const base = { spec: { request: Buffer.from('PEM').toString('base64'), signerName: 's', username: 'u', groups: ['g'], usages: ['client auth'] } };

  it.each([
    [undefined, 'Pending'],
    [{ conditions: [{ type: 'Approved', status: 'True' }] }, 'Approved'],
    [{ conditions: [{ type: 'Approved', status: 'True' }], certificate: 'Y2VydA==' }, 'Issued'],
    [{ conditions: [{ type: 'Denied', status: 'True' }] }, 'Denied'],
    [{ conditions: [{ type: 'Failed', status: 'True' }] }, 'Failed'],
    [{ conditions: [{ type: 'Approved', status: 'False' }] }, 'Pending'],
  ])('status %j is %s', (status, state) => {
    expect(csrViewFrom({ ...base, ...(status === undefined ? {} : { status }) }).state).toBe(state);
  });

  it('decodes the request and keeps the requester', () => {
    const view = csrViewFrom({ metadata: { name: 'n', uid: 'x', annotations: { a: 'b' } }, ...base });
    expect(view).toMatchObject({ name: 'n', uid: 'x', requestPem: 'PEM', username: 'u', groups: ['g'], annotations: { a: 'b' } });
  });
});
