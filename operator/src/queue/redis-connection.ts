/** BullMQ's connection options from a redis:// URL (no retry cap per request: BullMQ requires it). */
export function redisConnection(url: string): { host: string; port: number; password?: string; maxRetriesPerRequest: null } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), ...(u.password ? { password: decodeURIComponent(u.password) } : {}), maxRetriesPerRequest: null };
}
