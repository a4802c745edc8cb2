import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { createFleetNodeKeys, type FleetIssuers } from './fleet-range.js';
import { createIssuer, servingKey } from './fleet-pki.js';

describe('createFleetNodeKeys', () => {
  it.each(['ecdsa', 'rsassa'] as const)('gives every node of a %s range its own EK and AK, beyond any small key pool', async (ak) => {
    const issuers: FleetIssuers = { ekCa: await createIssuer('test EK CA'), agentCa: await createIssuer('test agent CA'), serving: await servingKey() };
    const nodes = await Promise.all(Array.from({ length: 20 }, (_, i) => createFleetNodeKeys(ak, issuers, i)));
    const ekFingerprints = new Set(nodes.map((k) => createHash('sha256').update(k.ekCertDer).digest('hex')));
    const ekPublics = new Set(nodes.map((k) => k.ek.publicArea.toString('hex')));
    const akNames = new Set(nodes.map((k) => Buffer.from(k.ak.name).toString('hex')));
    expect([ekFingerprints.size, ekPublics.size, akNames.size]).toEqual([20, 20, 20]);
  }, 60_000);
});
