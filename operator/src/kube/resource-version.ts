/**
 * Whether resourceVersion `rv` is at least `written`. Both are etcd revisions in decimal on every API
 * server; anything else (a missing or non-numeric version) compares as not caught up (callers then fall
 * back to the safe side: reading from the API server, or trusting the cache).
 */
export function resourceVersionAtLeast(rv: string | undefined, written: string): boolean {
  if (rv === undefined || !/^[0-9]{1,30}$/.test(rv) || !/^[0-9]{1,30}$/.test(written)) return false;
  return BigInt(rv) >= BigInt(written);
}
