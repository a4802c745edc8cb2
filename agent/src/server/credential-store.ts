import { open, rename, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** The node credential the operator issues, as three files written atomically with mode 0600. */
export const CREDENTIAL_FILES = { certificatePem: 'node.crt', privateKeyPem: 'node.key', caPem: 'ca.crt' } as const;
export type CredentialFields = Record<keyof typeof CREDENTIAL_FILES, string>;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write to a temporary name, fsync, rename over the target: readers see the old or the new file, never half. */
async function writeAtomic(dir: string, name: string, contents: string): Promise<void> {
  const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(contents);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, join(dir, name));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function writeCredential(dir: string, cred: CredentialFields): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const key of Object.keys(CREDENTIAL_FILES) as (keyof CredentialFields)[]) {
    await writeAtomic(dir, CREDENTIAL_FILES[key], cred[key]);
  }
  await fsyncDir(dir);
}

/** Removes the credential files; true when there was one to remove. */
export async function deleteCredential(dir: string): Promise<boolean> {
  let removed = false;
  for (const name of Object.values(CREDENTIAL_FILES)) {
    const existed = await rm(join(dir, name)).then(() => true, () => false);
    removed ||= existed;
  }
  if (removed) await fsyncDir(dir);
  return removed;
}
