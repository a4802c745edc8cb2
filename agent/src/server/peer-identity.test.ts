import type { PeerCertificate } from 'node:tls';
import { subjectCommonName } from './peer-identity.js';

const cert = (subject: Record<string, string | string[]>, subjectaltname?: string): PeerCertificate =>
  ({ subject, ...(subjectaltname === undefined ? {} : { subjectaltname }) }) as unknown as PeerCertificate;

describe('the operator identity is the subject CN alone', () => {
  it.each([
    ['CN nodeward-operator', cert({ CN: 'nodeward-operator' }), 'nodeward-operator'],
    ['CN nodeward-operator with unrelated SANs', cert({ CN: 'nodeward-operator' }, 'DNS:elsewhere'), 'nodeward-operator'],
    ['another CN with the identity as an email SAN', cert({ CN: 'node-a' }, 'email:nodeward-operator'), 'node-a'],
    ['no CN, the identity as a DNS SAN', cert({ O: 'nodeward' }, 'DNS:nodeward-operator'), undefined],
    ['two CNs, one of them the identity', cert({ CN: ['node-a', 'nodeward-operator'] }), undefined],
    ['no certificate', undefined, undefined],
  ])('%s', (_what, c, cn) => {
    expect(subjectCommonName(c)).toBe(cn);
  });
});
