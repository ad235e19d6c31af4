/**
 * Which segments retention deletes: whole segments only, oldest first, never the
 * active (last) one. By time: a segment whose newest record is older than
 * retentionMs. By size: the oldest segments while the partition stays at or above
 * retentionBytes without them (as Kafka: deleting never takes it below the bound).
 */

export interface RetentionSegment {
  sizeBytes: number;
  /** Largest record timestamp in the segment. */
  maxTimestampMs: number;
}

export interface RetentionPolicy {
  nowMs: number;
  /** -1 = no time bound. */
  retentionMs: number;
  /** -1 = no size bound. */
  retentionBytes: number;
}

/** How many segments from the front of `segments` (oldest first, last one active) to delete. */
export function expiredSegmentCount(segments: readonly RetentionSegment[], policy: RetentionPolicy): number {
  const sealedCount = segments.length - 1;
  let totalBytes = 0;
  for (const segment of segments) totalBytes += segment.sizeBytes;
  let count = 0;
  while (count < sealedCount) {
    const segment = segments[count]!;
    const expiredByTime = policy.retentionMs >= 0 && policy.nowMs - segment.maxTimestampMs > policy.retentionMs;
    const expiredBySize = policy.retentionBytes >= 0 && totalBytes - segment.sizeBytes >= policy.retentionBytes;
    if (!expiredByTime && !expiredBySize) break;
    totalBytes -= segment.sizeBytes;
    count++;
  }
  return count;
}
