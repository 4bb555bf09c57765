/**
 * Shard routing: a camera's records live on shard `fnv1a32(cameraId) mod S`. S is fixed when the cluster is
 * created (KV CVCORE_META); a record id starts with its camera id, so any node finds a record's shard.
 */

/** FNV-1a over the UTF-8 bytes: stable across processes and versions, cheap, spreads short ids well. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function shardOf(cameraId: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError('shards must be a positive integer');
  return fnv1a32(cameraId) % shards;
}

/** A record id is `<cameraId>:<trackId>:<firstSeen>`; camera ids may hold ':' themselves, so cut from the end. */
export function cameraOfRecordId(id: string): string | null {
  const parts = id.split(':');
  if (parts.length < 3) return null;
  return parts.slice(0, -2).join(':');
}
