import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measuredKernelCommandLines, parseEventLog, parsePcrYaml, replayEventLog, verifyEventLogAgainstPcrs, type HashAlgName, type PcrValues } from '@nodeward/attest';
import { assumeVerified } from '@nodeward/attest/testing';
import { createSwtpmCa, tpm2 } from './swtpm.js';
import { createMtlsPki } from './pki.js';
import { IMA_PATH, prepareSimNode, VERITY_STATUS_PATH, type SimNode } from './sim-node.js';
import { runCommand } from './run-command.js';

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

describe('simulated node', () => {
  let dir: string;
  let node: SimNode;
  const pcrs = async (sel: string): Promise<PcrValues<Uint8Array, HashAlgName>> => parsePcrYaml((await tpm2(node.swtpm, 'tpm2_pcrread', [sel])).stdout.toString());

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-sim-'));
    node = await prepareSimNode({ name: 'sim-1', ip: '127.0.2.2', baseDir: dir, ca: await createSwtpmCa(join(dir, 'ca')) });
  });
  afterAll(async () => {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a boot log whose replay equals the swtpm PCRs in every bank', async () => {
    const replay = replayEventLog(parseEventLog(await node.bootLog()));
    for (const bank of ['sha1', 'sha256', 'sha384'] as const) {
      const tpm = await pcrs(`${bank}:0,1,2,3,4,5,6,7,8`);
      expect(Object.keys(replay[bank]!).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8']);
      for (const [i, v] of Object.entries(replay[bank]!)) expect(hex(tpm[bank]![Number(i)])).toBe(v);
    }
    expect(replay).toEqual(node.bootPcrs());
  });

  it('measures a kernel command line carrying the real dm-verity root hash of its image', async () => {
    expect(node.kernelCmdline).toContain(`roothash=${node.verity.rootHash}`);
    await expect(runCommand('veritysetup', ['verify', node.verity.dataImage, node.verity.hashImage, node.verity.rootHash])).resolves.toBeDefined();
    const parsed = parseEventLog(await node.bootLog());
    const quoted = (await pcrs('sha256:0,1,2,3,4,5,6,7,8')).sha256!;
    const verdict = verifyEventLogAgainstPcrs(parsed, assumeVerified({ sha256: Object.fromEntries(Object.entries(quoted).map(([i, v]) => [i, hex(v)])) }));
    expect(verdict.ok).toBe(true);
    if (verdict.ok) expect(measuredKernelCommandLines(verdict.log)).toEqual([node.kernelCmdline]);
  });

  it('appends ima-ng entries and extends PCR 10 per bank as the kernel does, and a reboot starts over', async () => {
    const before = await pcrs('sha1:10+sha256:10');
    const contents = '#!/bin/sh\necho hello\n';
    const e = await node.appendImaFile('/usr/bin/hello', contents);
    expect(e.fileDigest).toBe(createHash('sha256').update(contents).digest('hex'));
    const list = await readFile(join(node.hostRoot, IMA_PATH));
    const tail = list.subarray(list.length - (4 + 20 + 4 + 6 + 4 + 4 + 'sha256:\0'.length + 32 + 4 + '/usr/bin/hello\0'.length));
    expect(hex(tail.subarray(4, 24))).toBe(e.templateHash);
    const data = tail.subarray(4 + 20 + 4 + 6 + 4);
    expect(hex(createHash('sha1').update(data).digest())).toBe(e.templateHash);
    const after = await pcrs('sha1:10+sha256:10');
    const ext = (alg: 'sha1' | 'sha256', old: Uint8Array): string => createHash(alg).update(old).update(createHash(alg).update(data).digest()).digest('hex');
    expect(hex(after.sha1![10])).toBe(ext('sha1', before.sha1![10]!));
    expect(hex(after.sha256![10])).toBe(ext('sha256', before.sha256![10]!));
    expect(node.imaEntryCount()).toBe(2);

    await node.reboot();
    expect(node.imaEntryCount()).toBe(1);
    expect(hex((await pcrs('sha256:10')).sha256![10])).toBe(hex(before.sha256![10]));
    expect(hex((await pcrs('sha256:8')).sha256![8])).toBe(node.bootPcrs().sha256!['8']);
  });

  it('a reboot is a TPM reset: resetCount moves on every one (an orderly Shutdown(CLEAR), not a suspend)', async () => {
    const resetCount = async (): Promise<number> => Number(/reset_count: (\d+)/.exec((await tpm2(node.swtpm, 'tpm2_readclock', [])).stdout.toString())![1]);
    const first = await resetCount();
    for (let i = 1; i <= 4; i++) {
      await node.reboot();
      expect(await resetCount()).toBe(first + i);
    }
  });

  it('corrupts and restores the verity image for real', async () => {
    const status = (): Promise<string> => readFile(join(node.hostRoot, VERITY_STATUS_PATH), 'utf8');
    expect(await status()).toMatch(/ verity V\n$/);
    await node.setVerityCorrupted(true);
    expect(await status()).toMatch(/ verity C\n$/);
    await expect(runCommand('veritysetup', ['verify', node.verity.dataImage, node.verity.hashImage, node.verity.rootHash])).rejects.toThrow();
    await node.setVerityCorrupted(false);
    expect(await status()).toMatch(/ verity V\n$/);
  });

  it('issues an mTLS PKI: operator client certificate and agent serving certificates per IP', async () => {
    const pki = await createMtlsPki(join(dir, 'pki'));
    const client = new X509Certificate(pki.operatorClient.certPem);
    expect(client.subject).toBe('CN=nodeward-operator');
    expect(client.verify(new X509Certificate(pki.operatorCa.certPem).publicKey)).toBe(true);
    const serving = new X509Certificate((await pki.agentServerCert('127.0.2.2', 'sim-1')).certPem);
    expect(serving.checkIP('127.0.2.2')).toBe('127.0.2.2');
    expect(serving.checkIP('127.0.2.3')).toBeUndefined();
    expect(serving.verify(new X509Certificate(pki.agentCa.certPem).publicKey)).toBe(true);
    expect(serving.verify(new X509Certificate(pki.operatorCa.certPem).publicKey)).toBe(false);
  });
});
