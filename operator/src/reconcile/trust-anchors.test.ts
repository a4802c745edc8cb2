import { generateCa } from '../ca/ca.js';
import type { ConfigMapView, NodeAttestationPolicySpec } from '../status/resources.js';
import { checkTrustAnchors } from './trust-anchors.js';

const spec = (key?: string): Pick<NodeAttestationPolicySpec, 'tpm'> => ({ tpm: { pcrs: [0], ekTrustAnchors: { configMapRef: { namespace: 'ns', name: 'ca' }, ...(key === undefined ? {} : { key }) } } });
const cms = (data?: Record<string, string>) => (ns: string, name: string): ConfigMapView | undefined =>
  (data === undefined || ns !== 'ns' || name !== 'ca' ? undefined : { metadata: { name, namespace: ns }, data });

describe('checkTrustAnchors', () => {
  let pem: string;
  beforeAll(async () => {
    pem = (await generateCa('test EK root', new Date())).certPem;
  });

  it('is ok without anchors (Audit trusts on first use)', () => {
    expect(checkTrustAnchors({ tpm: { pcrs: [0] } }, cms())).toEqual({ ok: true, certificates: 0 });
  });

  it('counts the certificates of every key, or of the named key', () => {
    expect(checkTrustAnchors(spec(), cms({ a: pem, b: `${pem}\n${pem}` }))).toEqual({ ok: true, certificates: 3 });
    expect(checkTrustAnchors(spec('a'), cms({ a: pem, b: 'junk' }))).toEqual({ ok: true, certificates: 1 });
  });

  it.each<[string, Pick<NodeAttestationPolicySpec, 'tpm'>, Record<string, string> | undefined, string, RegExp]>([
    ['ConfigMap missing', spec(), undefined, 'ConfigMapNotFound', /^spec\.tpm\.ekTrustAnchors: ConfigMap ns\/ca not found$/],
    ['key missing', spec('roots.pem'), { other: 'x' }, 'KeyNotFound', /has no key roots\.pem$/],
    ['no data at all', spec(), {}, 'KeyNotFound', /has no data$/],
    ['no PEM block', spec(), { a: 'not a certificate' }, 'NoCertificates', /holds no PEM certificate$/],
    ['a PEM block that does not parse', spec(), { a: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }, 'CertificateInvalid', /certificate 1 in ConfigMap ns\/ca does not parse/],
  ])('%s: fails closed with the field and reason', (_n, s, data, reason, message) => {
    const r = checkTrustAnchors(s, cms(data));
    expect(r).toMatchObject({ ok: false, reason });
    expect(!r.ok && r.message).toMatch(message);
  });

  it('one bad certificate among good ones is reported', () => {
    const bad = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    expect(checkTrustAnchors(spec(), cms({ a: `${pem}\n${bad}` }))).toMatchObject({ ok: false, reason: 'CertificateInvalid', message: expect.stringContaining('certificate 2') });
  });
});
