import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileRuntimePolicy, createRuntimePolicy, parseImaBinaryLog, verifyImaLog } from '@nodeward/attest';
import { encodeImaNgEntry, encodeImaSigEntry, type EncodedImaEntry } from '@nodeward/attest/testing';
import { evmctlSignDigests } from '@nodeward/e2e/sim/evmctl';
import { pcr10After } from './ima-fixture.js';
import { keylime } from './keylime.js';
import { fmt, once, table } from './timing.js';

/**
 * Keylime compatibility of IMA file signatures: an ima-sig list whose files are signed by evmctl
 * (RSA-2048 and ECDSA P-256) and are not in the policy's digests, with the signing keys in the
 * policy's verification-keys as Keylime writes them. Nodeward and Keylime's process_measurement_list
 * must agree on every variant; a disagreement throws.
 */

const FILES = 100;

interface Variant { name: string; lines: string[]; binary: Buffer; pcr10: string; keys: string }

function signer(kind: 'rsa' | 'ec'): { pem: string; spki: string } {
  const { publicKey, privateKey } = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), spki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

function variant(name: string, files: readonly { path: string; digest: Buffer; sig: Buffer }[], keys: string): Variant {
  const entries: EncodedImaEntry[] = files.map((f) => encodeImaSigEntry({ path: f.path, fileDigest: f.digest, sig: f.sig }));
  const lines = files.map((f, i) => `10 ${entries[i]!.templateHash.toString('hex')} ima-sig sha256:${f.digest.toString('hex')} ${f.path} ${f.sig.toString('hex')}`);
  return { name, lines, binary: Buffer.concat(entries.map((e) => e.bytes)), pcr10: pcr10After(entries, 'sha1'), keys };
}

const entriesText = (indexes: readonly number[]): string => {
  const unique = [...new Set(indexes)];
  return unique.length <= 4 ? `entries ${unique.join(', ')}` : `${unique.length} entries, ${unique[0]} to ${unique[unique.length - 1]}`;
};

export async function imaSignatureAgreement(dir: string): Promise<string> {
  const rsa = signer('rsa');
  const ec = signer('ec');
  const digests = Array.from({ length: FILES }, (_, i) => sha256(`signed file ${i}`));
  const rsaSigs = await evmctlSignDigests({ dir, name: 'rsa', keyPem: rsa.pem, alg: 'sha256', digests: digests.slice(0, FILES / 2) });
  const ecSigs = await evmctlSignDigests({ dir, name: 'ec', keyPem: ec.pem, alg: 'sha256', digests: digests.slice(FILES / 2) });
  const sigs = [...rsaSigs, ...ecSigs];
  const files = digests.map((digest, i) => ({ path: `/opt/vendor/bin/tool-${i}`, digest, sig: sigs[i]! }));
  const keys = JSON.stringify({ meta: { version: 1 }, keyids: [], pubkeys: [rsa.spki, ec.spki] });
  const changed = files.map((f, i) => (i === 7 || i === 81 ? { ...f, digest: sha256(`trojaned ${i}`) } : f));
  const variants = [
    variant('every file signed, keys in the policy', files, keys),
    variant('two files changed after signing (entries 7 and 81)', changed, keys),
    variant('every file signed, no verification-keys', files, ''),
    variant('only the RSA key in the policy', files, JSON.stringify({ keyids: [], pubkeys: [rsa.spki] })),
  ];
  // One listed file, so the policy's digests are not empty (an empty list means "no digest list" to Keylime).
  const listed = encodeImaNgEntry({ path: '/usr/bin/listed', fileDigest: sha256('listed') });
  const base = createRuntimePolicy(parseImaBinaryLog(listed.bytes));
  const rows: string[][] = [];
  const cost: string[][] = [];
  for (const v of variants) {
    const policy = { ...base, 'verification-keys': v.keys };
    const policyPath = join(dir, 'signed-policy.json');
    const logPath = join(dir, 'signed.ascii');
    await writeFile(policyPath, JSON.stringify(policy));
    await writeFile(logPath, v.lines.join('\n') + '\n');
    const nw = verifyImaLog(v.binary, compileRuntimePolicy(policy), { quotedPcr10: { bank: 'sha1', value: v.pcr10 } });
    const kl = await keylime('ima', [logPath, policyPath, v.pcr10, 1]);
    const nwText = nw.failures.length === 0 ? 'passes' : `fails (${entriesText(nw.failures.map((f) => Number(f.context?.index)))}: ${[...new Set(nw.failures.map((f) => f.id))].join(', ')})`;
    const klText = kl.ok ? 'passes' : `fails (${(kl.failures ?? []).join(', ')})`;
    if ((nw.failures.length === 0) !== kl.ok) throw new Error(`Nodeward and Keylime disagree on signed entries, ${v.name}: ${nwText} / ${klText}`);
    rows.push([v.name, nwText, klText]);
    if (v === variants[0]) {
      cost.push(...signatureCost(
        { rsa: variant('rsa', files.slice(0, FILES / 2), keys), ec: variant('ec', files.slice(FILES / 2), keys) }, policy, kl.seconds));
    }
  }
  return table([`ima-sig list, ${FILES} files signed by evmctl (half RSA-2048, half ECDSA P-256), none in digests`, 'Nodeward', 'Keylime'], rows)
    + '\n' + table(['cost per signed entry (one pass of the first variant\'s files)', 'µs'], cost)
    + `\nNodeward checks a signature only for an entry its digest list does not allow, and remembers valid ones (per policy, for every node); `
    + `ECDSA goes through @noble/curves (node:crypto cannot verify a prehashed digest), RSA through node:crypto. One pass each, so a rough figure.\n`;
}

/** Cold (a freshly compiled policy, every signature checked) per key type, then remembered, against Keylime's pass over the whole list. */
function signatureCost(lists: { rsa: Variant; ec: Variant }, policy: Parameters<typeof compileRuntimePolicy>[0], keylimeSeconds: number): string[][] {
  const compiled = compileRuntimePolicy(policy);
  const pass = (v: Variant): number => once(() => verifyImaLog(v.binary, compiled, { quotedPcr10: { bank: 'sha1', value: v.pcr10 } }));
  const half = FILES / 2;
  const us = (seconds: number, n: number): string => fmt((1e6 * seconds) / n, 1);
  const rsa = pass(lists.rsa);
  const ec = pass(lists.ec);
  const remembered = pass(lists.rsa) + pass(lists.ec);
  return [
    ['Nodeward, RSA-2048 signature checked (node:crypto)', us(rsa, half)],
    ['Nodeward, ECDSA P-256 signature checked (@noble/curves)', us(ec, half)],
    ['Nodeward, signature remembered', us(remembered, FILES)],
    ['Keylime process_measurement_list (half RSA, half P-256; OpenSSL)', us(keylimeSeconds, FILES)],
  ];
}
