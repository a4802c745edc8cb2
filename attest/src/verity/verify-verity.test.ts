import type { VerityDeviceStatus } from '../wire.js';
import { verifyVerity, type VerityPolicy } from './verify-verity.js';
import { verityRootHashesFromCmdlines } from './verity-cmdline.js';

const ROOT = 'a'.repeat(64);
const USR = 'b'.repeat(64);
const OTHER = 'c'.repeat(64);
const policy: VerityPolicy = { devices: [{ name: 'root', allowedRootHashes: [ROOT.toUpperCase()] }] };
const running = (status: VerityDeviceStatus['status'], rootHash = ROOT, name = 'root'): VerityDeviceStatus[] => [{ name, rootHash, status }];

describe('verifyVerity', () => {
  it.each<{ name: string; cmdlines: string[]; runtime: VerityDeviceStatus[]; policy?: VerityPolicy; ids: string[] }>([
    { name: 'good: roothash= measured, allowed, verified', cmdlines: [`/vmlinuz ro roothash=${ROOT}`], runtime: running('verified'), ids: [] },
    { name: 'good: systemd.verity_root_hash=', cmdlines: [`systemd.verity_root_hash=${ROOT}`], runtime: running('verified'), ids: [] },
    { name: 'good: usrhash= for device usr', cmdlines: [`usrhash=${USR}`], runtime: running('verified', USR, 'usr'), policy: { devices: [{ name: 'usr', allowedRootHashes: [USR] }] }, ids: [] },
    {
      name: 'good: dm-mod.create verity table',
      cmdlines: [`dm-mod.create="vroot,,,ro,0 2097152 verity 1 /dev/sda1 /dev/sda2 4096 4096 262144 1 sha256 ${ROOT} ${'0'.repeat(64)}"`],
      runtime: running('verified', ROOT, 'vroot'),
      policy: { devices: [{ name: 'vroot', allowedRootHashes: [ROOT] }] },
      ids: [],
    },
    { name: 'corrupted', cmdlines: [`roothash=${ROOT}`], runtime: running('corrupted'), ids: ['verity.corrupted'] },
    { name: 'status unknown fails closed', cmdlines: [`roothash=${ROOT}`], runtime: running('unknown'), ids: ['verity.status_unknown'] },
    { name: 'status outside the DTO union fails closed', cmdlines: [`roothash=${ROOT}`], runtime: running('weird' as VerityDeviceStatus['status']), ids: ['verity.status_unknown'] },
    { name: 'hash not on the measured command line', cmdlines: ['/vmlinuz ro'], runtime: running('verified'), ids: ['verity.roothash_not_measured'] },
    { name: 'no measured command line at all', cmdlines: [], runtime: running('verified'), ids: ['verity.roothash_not_measured'] },
    { name: 'hash not allowed', cmdlines: [`roothash=${OTHER}`], runtime: running('verified', OTHER), ids: ['verity.roothash_not_allowed'] },
    { name: 'device missing', cmdlines: [`roothash=${ROOT}`], runtime: [], ids: ['verity.device_missing'] },
    { name: 'runtime hash differs from the measured one', cmdlines: [`roothash=${ROOT}`], runtime: running('verified', OTHER), ids: ['verity.roothash_mismatch'] },
    { name: 'two command lines disagree', cmdlines: [`roothash=${ROOT}`, `roothash=${OTHER}`], runtime: running('verified'), ids: ['verity.roothash_ambiguous'] },
    { name: 'device reported twice', cmdlines: [`roothash=${ROOT}`], runtime: [...running('verified'), ...running('verified')], ids: ['verity.status_ambiguous'] },
    { name: 'non-hex root hash never matches', cmdlines: ['roothash=zz'], runtime: running('verified', 'zz'), policy: { devices: [{ name: 'root', allowedRootHashes: ['zz'] }] }, ids: ['verity.roothash_not_allowed', 'verity.roothash_mismatch'] },
    { name: 'no required devices', cmdlines: [], runtime: [], policy: { devices: [] }, ids: [] },
  ])('$name', ({ cmdlines, runtime, policy: p, ids }) => {
    expect(verifyVerity(cmdlines, runtime, p ?? policy).map((f) => f.id)).toEqual(ids);
  });

  it('collects root hashes per device from every source', () => {
    const m = verityRootHashesFromCmdlines([`roothash=${ROOT.toUpperCase()} usrhash=${USR}`, `dm-mod.create="a,,,ro,0 8 linear /dev/x 0;b,,,ro,0 8 verity 1 /dev/y /dev/z 4096 4096 1 1 sha256 ${OTHER} -"`]);
    expect(Object.fromEntries([...m].map(([k, v]) => [k, [...v]]))).toEqual({ root: [ROOT], usr: [USR], b: [OTHER] });
  });
});
