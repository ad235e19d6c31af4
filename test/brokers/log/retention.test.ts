import { describe, expect, test } from "bun:test";
import { expiredSegmentCount } from "../../../brokers/log/retention.ts";

const segments = [
  { sizeBytes: 100, maxTimestampMs: 1_000 },
  { sizeBytes: 100, maxTimestampMs: 2_000 },
  { sizeBytes: 100, maxTimestampMs: 3_000 },
  { sizeBytes: 50, maxTimestampMs: 1_000 },
];

describe("expiredSegmentCount", () => {
  test("by time: oldest segments whose newest record is older than retentionMs, stopping at the first young one", () => {
    expect(expiredSegmentCount(segments, { nowMs: 2_500, retentionMs: 1_000, retentionBytes: -1 })).toBe(1);
    expect(expiredSegmentCount(segments, { nowMs: 3_001, retentionMs: 1_000, retentionBytes: -1 })).toBe(2);
  });

  test("never deletes the active (last) segment", () => {
    expect(expiredSegmentCount(segments, { nowMs: 1_000_000, retentionMs: 0, retentionBytes: 0 })).toBe(3);
  });

  test("by size: deletes while the rest still holds retentionBytes", () => {
    expect(expiredSegmentCount(segments, { nowMs: 0, retentionMs: -1, retentionBytes: 250 })).toBe(1);
    expect(expiredSegmentCount(segments, { nowMs: 0, retentionMs: -1, retentionBytes: 150 })).toBe(2);
    expect(expiredSegmentCount(segments, { nowMs: 0, retentionMs: -1, retentionBytes: 351 })).toBe(0);
  });

  test("-1 disables both bounds", () => {
    expect(expiredSegmentCount(segments, { nowMs: 1e12, retentionMs: -1, retentionBytes: -1 })).toBe(0);
  });
});
