import { webcrypto } from 'node:crypto';
import { createSoftAk, type SoftAk } from '@nodeward/e2e/sim';
import { mapLimit } from './bench-stack.js';
import { ekCertificate, importIssuer, servingCert, servingKey, type Issuer } from './fleet-pki.js';
import { createSoftEk, type SoftEk } from './soft-credential.js';
import { SoftFleet, type FleetNodeKeys } from './soft-fleet.js';

/**
 * Everything a process needs to serve a range of the soft fleet's nodes (plain data, so it can be sent
 * to a child process): the issuers as PEM, the fleet image and the AK scheme.
 */
export interface FleetSpec {
  ak: SoftAk['scheme'];
  cmdline: string;
  verityRootHash: string;
  /** Issues each node's serving certificate (the operator trusts it). */
  agentCa: { certPem: string; keyPem: string };
  /** The fleet's TPM "manufacturer" CA: issues the EK certificates (in the policy's trust anchors). */
  ekCa: { certPem: string; keyPem: string };
  /** The CA of the operator's client certificate. */
  operatorCaPem: string;
  files: readonly { path: string; contents: string }[];
  entriesPerRound: number;
}

/** The 127.0.x.y of fleet node i, from 127.0.64.1 on (clear of the harness's default blocks). */
export const fleetIp = (i: number): string => `127.0.${64 + Math.floor(i / 254)}.${(i % 254) + 1}`;

/** The issuer as PEM (its key exported as PKCS#8), for a FleetSpec. */
export async function issuerPem(issuer: Issuer): Promise<{ certPem: string; keyPem: string }> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', issuer.key)).toString('base64');
  return { certPem: issuer.cert.toString('pem'), keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

/** What every node of a range is issued from: the two CAs and the serving key the nodes share. */
export interface FleetIssuers { ekCa: Issuer; agentCa: Issuer; serving: Awaited<ReturnType<typeof servingKey>> }

/**
 * Node i's own TPM: a fresh EK (with its certificate) and AK. The operator binds each EK and AK to
 * one NodeAttestation, so no two nodes may share either. An ECDSA fleet gets P-256 EKs: an RSA key
 * costs ~100 ms to generate, which at 10,000 nodes is most of the fleet's start-up.
 */
export async function createFleetNodeKeys(ak: SoftAk['scheme'], issuers: FleetIssuers, i: number): Promise<FleetNodeKeys> {
  const name = `soft-${i}`;
  const ek: SoftEk = await createSoftEk(ak === 'ecdsa' ? 'ecc' : 'rsa');
  return {
    ak: createSoftAk(ak), ek, ekCertDer: await ekCertificate(issuers.ekCa, ek.publicKey, name),
    certPem: await servingCert(issuers.agentCa, issuers.serving.pair.publicKey, fleetIp(i), name),
  };
}

/** Starts fleet nodes `soft-<from>` … `soft-<to - 1>`, each listening on its fleetIp:port. */
export async function startFleetRange(spec: FleetSpec, from: number, to: number, port: number): Promise<SoftFleet> {
  const issuers: FleetIssuers = {
    ekCa: await importIssuer(spec.ekCa.certPem, spec.ekCa.keyPem), agentCa: await importIssuer(spec.agentCa.certPem, spec.agentCa.keyPem), serving: await servingKey(),
  };
  const fleet = new SoftFleet({ cmdline: spec.cmdline, verityRootHash: spec.verityRootHash, files: spec.files, entriesPerRound: spec.entriesPerRound },
    { keyPem: issuers.serving.pem, clientCaPem: spec.operatorCaPem, operatorIdentity: 'nodeward-operator' });
  // The RSA EK keygen runs on the libuv pool, so 32 nodes in flight keep every core busy.
  await mapLimit(Array.from({ length: to - from }, (_, k) => from + k), 32, async (i) => {
    await fleet.add(`soft-${i}`, fleetIp(i), port, await createFleetNodeKeys(spec.ak, issuers, i));
  });
  return fleet;
}
