/**
 * Key → partition, the same in every process and every version: Kafka's murmur2
 * (seed 0x9747b28c) over the key's UTF-8 bytes, sign bit cleared, modulo the
 * partition count. Streamers use it to know which GPUs a partition holds, so it
 * must never depend on process state.
 */

const seed = 0x9747b28c;
const m = 0x5bd1e995;
const encoder = new TextEncoder();

/** Kafka's murmur2 of `bytes` as a signed 32-bit integer. */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = (seed ^ length) | 0;
  const quads = length >>> 2;
  for (let index = 0; index < quads; index += 1) {
    const at = index * 4;
    let k = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24) | 0;
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  // The 1–3 trailing bytes are mixed in together, as Kafka's fall-through switch does.
  const tail = quads * 4;
  const remaining = length & 3;
  if (remaining >= 3) h ^= bytes[tail + 2]! << 16;
  if (remaining >= 2) h ^= bytes[tail + 1]! << 8;
  if (remaining >= 1) {
    h ^= bytes[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `key` among `partitionCount` partitions. */
export function partitionForKey(key: string | Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new Error(`partitionCount must be a positive integer, got ${partitionCount}`);
  }
  const bytes = typeof key === "string" ? encoder.encode(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitionCount;
}

/**
 * Memoizes key → partition for a fixed partition count. The key space (GPU UUIDs)
 * is small and hot; `cacheKeysMax` bounds the memory if it is not.
 */
export function createPartitioner(partitionCount: number, cacheKeysMax = 65_536): (key: string) => number {
  const cache = new Map<string, number>();
  return (key: string) => {
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const partition = partitionForKey(key, partitionCount);
    if (cache.size >= cacheKeysMax) cache.clear();
    cache.set(key, partition);
    return partition;
  };
}
