import { createLogger, redact } from './log.js';

const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';

describe('redact', () => {
  it.each<[string, unknown, unknown]>([
    ['sensitive keys', { privateKeyPem: 'x', token: 't', secret: 's', password: 'p', caPem: 'c', key: 'k', nodeName: 'n1' },
      { privateKeyPem: '[REDACTED]', token: '[REDACTED]', secret: '[REDACTED]', password: '[REDACTED]', caPem: '[REDACTED]', key: '[REDACTED]', nodeName: 'n1' }],
    ['PEM inside any string', { detail: `got ${pem} here` }, { detail: 'got [REDACTED] here' }],
    ['truncated PEM', `x -----BEGIN CERTIFICATE-----\nMIIB`, 'x [REDACTED]'],
    ['nested', { a: [{ credential: { certificatePem: pem } }, pem] }, { a: [{ credential: '[REDACTED]' }, '[REDACTED]'] }],
    ['bytes', { blob: new Uint8Array(32) }, { blob: '[32 bytes]' }],
    ['errors', new Error(`bad ${pem}`), { name: 'Error', message: 'bad [REDACTED]' }],
    ['scalars', 5, 5],
  ])('%s', (_n, input, expected) => expect(redact(input)).toEqual(expected));
});

describe('createLogger', () => {
  it('writes one JSON line per record, redacted, honouring the level', () => {
    const lines: string[] = [];
    const log = createLogger({ component: 'test' }, { level: 'info', write: (l) => lines.push(l) }).child({ node: 'n1' });
    log.debug('hidden');
    log.info('issued', { privateKeyPem: pem, serial: '01' });
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: 'info', msg: 'issued', component: 'test', node: 'n1', privateKeyPem: '[REDACTED]', serial: '01' });
    expect(lines[0]).not.toContain('BEGIN');
  });
});
