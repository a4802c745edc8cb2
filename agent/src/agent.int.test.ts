import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'node:https';
import {
  makeCredential, parseEventLog, parsePublic, quotePcrsFromWire, replayEventLog, tpmObjectName, verifyQuote,
  type IdentityResponse, type QuoteResponse, type RoundResponse,
} from '@nodeward/attest';
import { createMtlsPki, createSwtpmCa, prepareSimNode, tpm2, type MtlsPki, type SimNode } from '@nodeward/e2e/sim';
import { startAgent, type AgentConfig, type RunningAgent } from './agent.js';
import { agentHttpsAgent, agentRequest, type AgentReply } from './agent-client.js';
import { createLogger } from './log.js';
import { imaEntryLength } from './evidence/ima-log-index.js';

const SEL = { sha1: [10], sha256: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10] };

describe('node agent against swtpm (mTLS API)', () => {
  let dir: string;
  let pki: MtlsPki;
  let nodeA: SimNode;
  let nodeB: SimNode;
  let agentA: RunningAgent;
  let agentB: RunningAgent;
  let client: Agent;
  const logLines: string[] = [];
  const secretsSeen: string[] = [];

  const config = async (node: SimNode, extra: Partial<AgentConfig> = {}): Promise<AgentConfig> => {
    const serving = await pki.agentServerCert(node.ip, node.name);
    return {
      listen: { host: node.ip, port: 0 }, tcti: node.tcti, hostRoot: node.hostRoot,
      tls: { ...serving, clientCaPem: pki.operatorCa.certPem },
      logger: createLogger({ level: 'debug', write: (l) => logLines.push(l), base: { node: node.name } }),
      ...extra,
    };
  };
  const call = (a: RunningAgent, path: string, init: { method?: string; body?: unknown; rawBody?: string } = {}): Promise<AgentReply> =>
    agentRequest(a.url, { path, agent: client, ...init });
  const quote = async (a: RunningAgent, nonce = randomBytes(20)): Promise<{ q: QuoteResponse; nonce: Buffer }> => {
    secretsSeen.push(nonce.toString('hex'));
    const r = await call(a, '/v1/quote', { method: 'POST', body: { nonce: nonce.toString('hex'), pcrSelection: SEL } });
    expect(r.status).toBe(200);
    return { q: r.json as QuoteResponse, nonce };
  };
  const verify = (id: IdentityResponse, q: QuoteResponse, nonce: Buffer): ReturnType<typeof verifyQuote> =>
    verifyQuote({ akPublic: Buffer.from(id.akPublic, 'base64'), quoted: Buffer.from(q.quoted, 'base64'),
      signature: Buffer.from(q.signature, 'base64'), nonce, pcrs: quotePcrsFromWire(q.pcrs) });
  const healthy = async (a: RunningAgent): Promise<void> => { expect((await call(a, '/healthz')).status).toBe(200); };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-agent-'));
    const ca = await createSwtpmCa(join(dir, 'swtpm-ca'));
    pki = await createMtlsPki(join(dir, 'pki'));
    nodeA = await prepareSimNode({ name: 'node-a', ip: '127.0.1.2', baseDir: dir, ca });
    nodeB = await prepareSimNode({ name: 'node-b', ip: '127.0.1.3', baseDir: dir, ca });
    client = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...pki.operatorClient });
    agentA = await startAgent(await config(nodeA));
    agentB = await startAgent(await config(nodeB));
  });
  afterAll(async () => {
    client?.destroy();
    await agentA?.close();
    await agentB?.close();
    await nodeA?.stop();
    await nodeB?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the identity: EK certificates, EK and AK public areas, the AK Name', async () => {
    const r = await call(agentA, '/v1/identity');
    expect(r.status).toBe(200);
    const id = r.json as IdentityResponse;
    expect(id.ekCertificates.map((c) => c.keyType)).toEqual(['rsa', 'ecc']);
    expect(parsePublic(Buffer.from(id.ekPublic, 'base64')).type).toBe('rsa');
    const ak = parsePublic(Buffer.from(id.akPublic, 'base64'));
    expect(ak.type).toBe('rsa');
    expect(tpmObjectName(ak).toString('hex')).toBe(id.akName);
    expect(id.tpm.manufacturer).toBe('IBM');
    expect(id.tpm.firmwareVersion).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('keeps its AK across a restart and its quotes still verify against the first identity', async () => {
    const first = agentA.identity;
    await agentA.close();
    agentA = await startAgent(await config(nodeA));
    expect(agentA.identity.akName).toBe(first.akName);
    expect(agentA.identity.akPublic).toBe(first.akPublic);
    const { q, nonce } = await quote(agentA);
    expect(verify(first, q, nonce)).toMatchObject({ ok: true });
    expect(logLines.filter((l) => l.includes('"tpm ready"') && l.includes('"node":"node-a"')).map((l) => (JSON.parse(l) as { akCreated: boolean }).akCreated))
      .toEqual([true, false]);
  });

  it('activates a credential made for its EK and AK Name, and refuses one made for another AK', async () => {
    const id = agentA.identity;
    const secret = randomBytes(32);
    secretsSeen.push(secret.toString('hex'));
    const made = makeCredential({ ekPublic: Buffer.from(id.ekPublic, 'base64'), akName: Buffer.from(id.akName, 'hex'), secret });
    const body = { credentialBlob: made.credentialBlob.toString('base64'), encryptedSecret: made.encryptedSecret.toString('base64') };
    const r = await call(agentA, '/v1/activate', { method: 'POST', body });
    expect(r.status).toBe(200);
    expect(Buffer.from((r.json as { secret: string }).secret, 'base64')).toEqual(secret);

    const other = makeCredential({ ekPublic: Buffer.from(id.ekPublic, 'base64'), akName: Buffer.from(agentB.identity.akName, 'hex'), secret });
    const bad = await call(agentA, '/v1/activate', { method: 'POST',
      body: { credentialBlob: other.credentialBlob.toString('base64'), encryptedSecret: other.encryptedSecret.toString('base64') } });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { code: string; message: string } }).error).toMatchObject({ code: 'activate.invalid', message: expect.stringContaining('credentialBlob') as unknown });
    await healthy(agentA);
  });

  it('answers a malformed activation blob 400 naming the field, not 503', async () => {
    const id = agentA.identity;
    const made = makeCredential({ ekPublic: Buffer.from(id.ekPublic, 'base64'), akName: Buffer.from(id.akName, 'hex'), secret: randomBytes(32) });
    const activate = (credentialBlob: Buffer, encryptedSecret: Buffer): Promise<AgentReply> => call(agentA, '/v1/activate', { method: 'POST',
      body: { credentialBlob: credentialBlob.toString('base64'), encryptedSecret: encryptedSecret.toString('base64') } });
    const error = (r: AgentReply): unknown => ({ status: r.status, ...(r.json as { error: object }).error });
    // Well-shaped, but its integrity HMAC is wrong: the TPM rejects parameter 1 (TPM_RC_INTEGRITY).
    const flipped = Buffer.from(made.credentialBlob);
    flipped[5]! ^= 0xff;
    expect(error(await activate(flipped, made.encryptedSecret)))
      .toMatchObject({ status: 400, code: 'activate.invalid', message: expect.stringMatching(/^credentialBlob was rejected by the TPM: .*INTEGRITY/) as unknown });
    // Not the structures at all: refused before the TPM.
    expect(error(await activate(Buffer.from([0, 4, 0, 1, 9, 9]), made.encryptedSecret)))
      .toMatchObject({ status: 400, code: 'activate.invalid', message: expect.stringContaining('credentialBlob must be a TPM2B_ID_OBJECT') as unknown });
    expect(error(await activate(made.credentialBlob, made.encryptedSecret.subarray(0, 100))))
      .toMatchObject({ status: 400, code: 'activate.invalid', message: expect.stringContaining('encryptedSecret must be a TPM2B') as unknown });
    expect(error(await activate(made.credentialBlob, Buffer.concat([Buffer.from([0, 7]), made.encryptedSecret.subarray(2, 9)]))))
      .toMatchObject({ status: 400, code: 'activate.invalid', message: expect.stringContaining('encryptedSecret must be an RSA block') as unknown });
    expect((await activate(made.credentialBlob, made.encryptedSecret)).status).toBe(200);
  });

  it('activates through the EK persisted at its handle, through a re-created EK without one, and leaves a foreign key at the EK handle alone', async () => {
    const activate = async (a: RunningAgent, akName: string): Promise<AgentReply> => {
      const made = makeCredential({ ekPublic: Buffer.from(a.identity.ekPublic, 'base64'), akName: Buffer.from(akName, 'hex'), secret: randomBytes(32) });
      return call(a, '/v1/activate', { method: 'POST', body: { credentialBlob: made.credentialBlob.toString('base64'), encryptedSecret: made.encryptedSecret.toString('base64') } });
    };
    const ekHandleOf = (node: string): string[] => logLines.filter((l) => l.includes('"tpm ready"') && l.includes(`"node":"${node}"`))
      .map((l) => (JSON.parse(l) as { ekHandle: string }).ekHandle);
    expect(ekHandleOf('node-b')).toEqual(['0x81010001']);
    const first = agentB.identity;
    for (const extra of [{ ekHandle: null }, { ekHandle: 0x81010003 }]) {
      // No persistent EK, then the handle of another key (an ECC AK made here first): the EK is re-created per activation.
      await agentB.close();
      if (extra.ekHandle !== null) await (await startAgent(await config(nodeB, { akType: 'ecc', akHandle: extra.ekHandle, ekHandle: null }))).close();
      agentB = await startAgent(await config(nodeB, extra));
      expect(agentB.identity.ekPublic).toBe(first.ekPublic);
      expect((await activate(agentB, agentB.identity.akName)).status).toBe(200);
      expect((await activate(agentB, agentA.identity.akName)).status).toBe(503);
    }
    expect(ekHandleOf('node-b')).toEqual(['0x81010001', 'none', 'none', 'none']);
    // swtpm_setup persisted the EK at 0x81010001: the agent used it as it was, without re-creating it.
    const sources = logLines.filter((l) => l.includes('"tpm ready"') && l.includes('"node":"node-b"')).map((l) => (JSON.parse(l) as { ekSource: string }).ekSource);
    expect(sources).toEqual(['persistent', 'created', 'created', 'created']);
    expect(logLines.some((l) => l.includes('EK handle holds another key') && l.includes('0x81010003'))).toBe(true);
    await agentB.close();
    agentB = await startAgent(await config(nodeB));
    // More activations than the TPM has session slots: each one's policy session is flushed.
    for (let i = 0; i < 5; i++) expect((await activate(agentB, agentB.identity.akName)).status).toBe(200);
    const leftover = await tpm2(nodeB.swtpm, 'tpm2_getcap', ['handles-saved-session']);
    expect(leftover.stdout.toString().trim()).toBe('');
  });

  it('quotes: the signature, nonce and PCR digest verify, and the boot PCRs equal the event log replay', async () => {
    const { q, nonce } = await quote(agentA);
    const v = verify(agentA.identity, q, nonce);
    expect(v).toMatchObject({ ok: true });
    const log = Buffer.from(((await call(agentA, '/v1/eventlog')).json as { log: string }).log, 'base64');
    expect(log).toEqual(await nodeA.bootLog());
    const replay = replayEventLog(parseEventLog(log));
    for (const i of [0, 4, 7, 8]) expect(q.pcrs.sha256?.[String(i)]).toBe(replay.sha256?.[String(i)]);
    expect(verify(agentA.identity, q, randomBytes(20))).toMatchObject({ ok: false });
  });

  it('measures quote latency (reported, not asserted)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await quote(agentA);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`quote latency over mTLS, 20 sequential: p50 ${times[10]!.toFixed(1)} ms, p95 ${times[18]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms`);
    expect(times).toHaveLength(20);
  });

  it('refuses clients without a certificate, with one from another CA, or with another identity', async () => {
    const noCert = agentHttpsAgent({ caPem: pki.agentCa.certPem }, false);
    await expect(agentRequest(agentA.url, { path: '/v1/identity', agent: noCert })).rejects.toThrow();
    const rogue = await createMtlsPki(join(dir, 'rogue-pki'));
    const otherCa = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...rogue.operatorClient }, false);
    await expect(agentRequest(agentA.url, { path: '/v1/identity', agent: otherCa })).rejects.toThrow();
    const wrongCn = agentHttpsAgent({ caPem: pki.agentCa.certPem, ...(await pki.operatorCa.issue({ cn: 'not-the-operator', usage: 'client' })) }, false);
    const r = await agentRequest(agentA.url, { path: '/v1/identity', agent: wrongCn });
    expect(r.status).toBe(403);
    const bySan = agentHttpsAgent({ caPem: pki.agentCa.certPem,
      ...(await pki.operatorCa.issue({ cn: 'operator-pod-1', usage: 'client', sans: ['nodeward-operator'] })) }, false);
    // The identity is the subject CN alone: a SAN naming the operator is not enough.
    expect((await agentRequest(agentA.url, { path: '/v1/identity', agent: bySan })).status).toBe(403);
    [noCert, otherCa, wrongCn, bySan].forEach((a) => a.destroy());
    await healthy(agentA);
  });

  it.each([
    ['oversized body', { rawBody: JSON.stringify({ nonce: 'ab'.repeat(16), pad: 'x'.repeat(100 << 10) }) }, 413, 'request.too_large'],
    ['malformed JSON', { rawBody: '{"nonce": ' }, 400, 'request.malformed_json'],
    ['a JSON array', { rawBody: '[]' }, 400, 'request.invalid'],
    ['no nonce', { body: { pcrSelection: SEL } }, 400, 'quote.invalid_nonce'],
    ['a 7-byte nonce', { body: { nonce: 'ab'.repeat(7), pcrSelection: SEL } }, 400, 'quote.invalid_nonce'],
    ['a 65-byte nonce', { body: { nonce: 'ab'.repeat(65), pcrSelection: SEL } }, 400, 'quote.invalid_nonce'],
    ['a non-hex nonce', { body: { nonce: 'zz'.repeat(16), pcrSelection: SEL } }, 400, 'quote.invalid_nonce'],
    ['PCR 24', { body: { nonce: 'ab'.repeat(16), pcrSelection: { sha256: [24] } } }, 400, 'quote.invalid_pcr'],
    ['bank md5', { body: { nonce: 'ab'.repeat(16), pcrSelection: { md5: [0] } } }, 400, 'quote.invalid_bank'],
    ['an empty selection', { body: { nonce: 'ab'.repeat(16), pcrSelection: {} } }, 400, 'quote.invalid_pcr'],
  ])('rejects %s with the right status and keeps serving', async (_what, init, status, code) => {
    const r = await call(agentA, '/v1/quote', { method: 'POST', ...init });
    expect(r.status).toBe(status);
    expect((r.json as { error: { code: string } }).error.code).toBe(code);
    await healthy(agentA);
  });

  it('answers unknown paths 404, wrong methods 405 and bad activate input 400', async () => {
    expect((await call(agentA, '/v2/identity')).status).toBe(404);
    expect((await call(agentA, '/v1/quote')).status).toBe(405);
    expect((await call(agentA, '/v1/activate', { method: 'POST', body: { credentialBlob: 'AAAA', encryptedSecret: '!!' } })).status).toBe(400);
    expect((await call(agentA, '/v1/ima?from=-1')).status).toBe(400);
    await healthy(agentA);
  });

  it('keeps two nodes apart: different AKs, and an IMA measurement on one moves only its PCR 10', async () => {
    expect(agentA.identity.akName).not.toBe(agentB.identity.akName);
    const beforeA = (await quote(agentA)).q.pcrs.sha256!['10'];
    const beforeB = (await quote(agentB)).q.pcrs.sha256!['10'];
    await nodeA.appendImaFile('/usr/bin/only-on-a', 'a\n');
    const a = await quote(agentA);
    const b = await quote(agentB);
    expect(a.q.pcrs.sha256!['10']).not.toBe(beforeA);
    expect(b.q.pcrs.sha256!['10']).toBe(beforeB);
    expect(verify(agentA.identity, a.q, a.nonce)).toMatchObject({ ok: true });
    expect(verify(agentB.identity, b.q, b.nonce)).toMatchObject({ ok: true });
    expect(verify(agentB.identity, a.q, a.nonce)).toMatchObject({ ok: false });
  });

  it('serves the IMA list incrementally and it replays to the quoted PCR 10', async () => {
    const first = (await call(agentB, '/v1/ima')).json as { from: number; total: number; entries: string };
    expect(first).toMatchObject({ from: 0, total: nodeB.imaEntryCount() });
    const added = [];
    for (const f of ['/usr/bin/one', '/usr/bin/two', '/usr/bin/three']) added.push(await nodeB.appendImaFile(f, `contents of ${f}`));
    const next = (await call(agentB, `/v1/ima?from=${first.total}`)).json as { from: number; total: number; entries: string };
    expect(next).toMatchObject({ from: first.total, total: first.total + 3 });
    const entries = Buffer.from(next.entries, 'base64');
    const hashes: string[] = [];
    for (let off = 0, len = imaEntryLength(entries, 0); len > 0; off += len, len = imaEntryLength(entries, off)) {
      hashes.push(entries.subarray(off + 4, off + 24).toString('hex'));
    }
    expect(hashes).toEqual(added.map((e) => e.templateHash));
    const past = (await call(agentB, '/v1/ima?from=100')).json as { total: number; entries: string };
    expect(past).toMatchObject({ total: first.total + 3, entries: '' });

    const all = Buffer.concat([Buffer.from(first.entries, 'base64'), entries]);
    let pcr: Buffer = Buffer.alloc(20);
    for (let off = 0, len = imaEntryLength(all, 0); len > 0; off += len, len = imaEntryLength(all, off)) {
      pcr = createHash('sha1').update(pcr).update(all.subarray(off + 4, off + 24)).digest();
    }
    expect((await quote(agentB)).q.pcrs.sha1!['10']).toBe(pcr.toString('hex'));
  });

  it('answers POST /v1/round: the quote, then an IMA list that covers the quoted PCR 10 even while files are measured', async () => {
    /** The sha1 PCR 10 after each prefix of `entries`. */
    const prefixPcrs = (entries: Buffer): string[] => {
      const out = [Buffer.alloc(20).toString('hex')];
      let pcr: Buffer = Buffer.alloc(20);
      for (let off = 0, len = imaEntryLength(entries, 0); len > 0; off += len, len = imaEntryLength(entries, off)) {
        pcr = createHash('sha1').update(pcr).update(entries.subarray(off + 4, off + 24)).digest();
        out.push(pcr.toString('hex'));
      }
      return out;
    };
    let measuring = true;
    const measured = (async (): Promise<void> => {
      for (let i = 0; measuring; i++) await nodeB.appendImaFile(`/usr/bin/during-round-${i}`, `run ${i}`);
    })();
    try {
      for (let round = 0; round < 10; round++) {
        const nonce = randomBytes(32);
        secretsSeen.push(nonce.toString('hex'));
        const r = await call(agentB, '/v1/round', { method: 'POST', body: { nonce: nonce.toString('hex'), pcrSelection: SEL, imaFrom: 0 } });
        expect(r.status).toBe(200);
        const answer = r.json as RoundResponse;
        expect(Object.keys(answer).sort()).toEqual(['ima', 'quote']);
        expect(verify(agentB.identity, answer.quote, nonce)).toMatchObject({ ok: true });
        expect(answer.ima).toMatchObject({ from: 0 });
        // Read after the quote: some prefix of the list replays to the quoted PCR 10 (read before, it could lag behind).
        expect(prefixPcrs(Buffer.from(answer.ima!.entries, 'base64'))).toContain(answer.quote.pcrs.sha1!['10']);
      }
    } finally {
      measuring = false;
      await measured;
    }
    const from = nodeB.imaEntryCount() - 1;
    const all = await call(agentB, '/v1/round', { method: 'POST', body: { nonce: 'ab'.repeat(16), pcrSelection: SEL, imaFrom: from, eventLog: true, verity: true } });
    const answer = all.json as RoundResponse;
    expect(answer.ima).toMatchObject({ from, total: nodeB.imaEntryCount() });
    expect(Buffer.from(answer.eventLog!.log, 'base64').equals(await nodeB.bootLog())).toBe(true);
    expect(answer.verity).toEqual({ devices: [{ name: 'root', rootHash: nodeB.verity.rootHash, status: 'verified' }] });
  });

  it.each([
    ['no nonce', { pcrSelection: SEL }, 'quote.invalid_nonce'],
    ['an empty selection', { nonce: 'ab'.repeat(16), pcrSelection: {} }, 'quote.invalid_pcr'],
    ['a negative imaFrom', { nonce: 'ab'.repeat(16), pcrSelection: SEL, imaFrom: -1 }, 'ima.invalid_from'],
    ['a string imaFrom', { nonce: 'ab'.repeat(16), pcrSelection: SEL, imaFrom: '0' }, 'ima.invalid_from'],
    ['eventLog not a boolean', { nonce: 'ab'.repeat(16), pcrSelection: SEL, eventLog: 'yes' }, 'round.invalid'],
    ['verity not a boolean', { nonce: 'ab'.repeat(16), pcrSelection: SEL, verity: 1 }, 'round.invalid'],
  ])('rejects a round request with %s as 400 naming the field', async (_what, body, code) => {
    const r = await call(agentA, '/v1/round', { method: 'POST', body });
    expect(r.status).toBe(400);
    expect((r.json as { error: { code: string; message: string } }).error.code).toBe(code);
    expect((await call(agentA, '/v1/round')).status).toBe(405);
  });

  it('reports dm-verity root hash and status from the node', async () => {
    const get = async (): Promise<unknown> => (await call(agentA, '/v1/verity')).json;
    expect(await get()).toEqual({ devices: [{ name: 'root', rootHash: nodeA.verity.rootHash, status: 'verified' }] });
    await nodeA.setVerityCorrupted(true);
    expect(await get()).toEqual({ devices: [{ name: 'root', rootHash: nodeA.verity.rootHash, status: 'corrupted' }] });
    await nodeA.setVerityCorrupted(false);
    expect(await get()).toMatchObject({ devices: [{ status: 'verified' }] });
  });

  it('stores the node credential as 0600 files and deletes it', async () => {
    const issued = await pki.agentCa.issue({ cn: 'node-a', usage: 'client' });
    const credDir = join(nodeA.hostRoot, 'var/lib/nodeward/credential');
    const body = { certificatePem: issued.certPem, privateKeyPem: issued.keyPem, caPem: pki.agentCa.certPem };
    secretsSeen.push(issued.keyPem.split('\n')[1]!);
    expect((await call(agentA, '/v1/credential', { method: 'PUT', body })).status).toBe(204);
    for (const [f, want] of [['node.crt', issued.certPem], ['node.key', issued.keyPem], ['ca.crt', pki.agentCa.certPem]] as const) {
      expect(await readFile(join(credDir, f), 'utf8')).toBe(want);
      expect((await stat(join(credDir, f))).mode & 0o777).toBe(0o600);
    }
    const mismatched = { ...body, privateKeyPem: pki.operatorClient.keyPem };
    expect((await call(agentA, '/v1/credential', { method: 'PUT', body: mismatched })).status).toBe(400);
    expect(await readFile(join(credDir, 'node.key'), 'utf8')).toBe(issued.keyPem);
    expect((await call(agentA, '/v1/credential', { method: 'DELETE' })).status).toBe(204);
    await expect(stat(join(credDir, 'node.crt'))).rejects.toThrow();
    await expect(stat(join(credDir, 'node.key'))).rejects.toThrow();
  });

  it('works with an ECC P-256 AK as well', async () => {
    const ecc = await startAgent(await config(nodeB, { akType: 'ecc', akHandle: 0x81010003 }));
    try {
      expect(parsePublic(Buffer.from(ecc.identity.akPublic, 'base64')).type).toBe('ecc');
      const { q, nonce } = await quote(ecc);
      expect(verify(ecc.identity, q, nonce)).toMatchObject({ ok: true });
    } finally {
      await ecc.close();
    }
  });

  it('exposes Prometheus metrics and never logs nonces, secrets or keys', async () => {
    const text = (await call(agentA, '/metrics')).body.toString();
    expect(text).toMatch(/^nodeward_agent_requests_total\{path="\/v1\/quote",code="200"\} \d+$/m);
    expect(text).toMatch(/^nodeward_agent_requests_total\{path="other",code="404"\} 1$/m);
    expect(text).toMatch(/^nodeward_agent_quote_duration_seconds_count [1-9]\d*$/m);
    // A blob the TPM refuses is the client's error (400), not a TPM failure.
    expect(text).toMatch(/^nodeward_agent_requests_total\{path="\/v1\/activate",code="400"\} [1-9]\d*$/m);
    expect(text).not.toMatch(/^nodeward_agent_tpm_errors_total\{op="\/v1\/activate"\}/m);
    expect(logLines.length).toBeGreaterThan(10);
    for (const line of logLines) {
      expect(() => JSON.parse(line) as unknown).not.toThrow();
      for (const s of secretsSeen) expect(line).not.toContain(s);
    }
  });
});
