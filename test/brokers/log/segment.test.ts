import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type AppendedBatch, Segment } from "../../../brokers/log/segment.ts";
import { dataViewOf, readBatchHeader, stampBaseOffset } from "../../../src/broker-protocol/record-batch.ts";
import { makeBatch, smallConfig, tempDir } from "./log-test-support.ts";

const dir = tempDir("segment");
afterAll(dir.remove);
const config = smallConfig({ indexIntervalBytes: 200 });

/** Appends `count` 4-record batches in one call, stamped from the segment's next offset. */
function appendBatches(segment: Segment, count: number, timestampMs: number): void {
  const parts = Array.from({ length: count }, (_, index) =>
    makeBatch({ records: 4, timestampMs: timestampMs + index * 100 }),
  );
  const bytes = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  const batches: AppendedBatch[] = [];
  let position = 0;
  for (const part of parts) {
    bytes.set(part, position);
    const baseOffset = segment.nextOffset + batches.length * 4;
    stampBaseOffset(bytes, position, baseOffset);
    batches.push({
      position,
      sizeBytes: part.length,
      baseOffset,
      lastOffset: baseOffset + 3,
      maxTimestampMs: readBatchHeader(dataViewOf(part), 0).maxTimestampMs,
    });
    position += part.length;
  }
  segment.append(bytes, batches, { indexIntervalBytes: config.indexIntervalBytes, nowMs: timestampMs });
}

describe("Segment", () => {
  test("is named by its 20-digit base offset and reads the batch containing any offset", () => {
    const segment = Segment.create(dir.path, 1_000, config);
    appendBatches(segment, 20, 5_000);
    expect(existsSync(join(dir.path, "00000000000000001000.log"))).toBe(true);
    expect(segment.nextOffset).toBe(1_080);
    expect(segment.offsetIndex.entryCount).toBeGreaterThan(5);
    for (const offset of [1_000, 1_001, 1_042, 1_079]) {
      const read = segment.read(offset, 1, config.batchBytesMax);
      expect(readBatchHeader(dataViewOf(read.bytes), 0).baseOffset).toBe(offset - ((offset - 1_000) % 4));
    }
    expect(segment.read(1_080, 100, config.batchBytesMax).batchCount).toBe(0);
    expect(segment.offsetForTimestamp(5_000 + 1_000, config.batchBytesMax)).toBe(1_040);
    expect(segment.offsetForTimestamp(5_000 + 1_001, config.batchBytesMax)).toBe(1_041);
    expect(segment.offsetForTimestamp(99_999, config.batchBytesMax)).toBeUndefined();
  });

  test("sealing trims the indexes and records the max timestamp; deletion renames then unlinks", async () => {
    const segment = Segment.create(dir.path, 2_000, config);
    appendBatches(segment, 10, 7_000);
    await segment.seal();
    expect(statSync(join(dir.path, "00000000000000002000.index")).size).toBe(segment.offsetIndex.entryCount * 8);
    expect(segment.timeIndex.lastEntry()).toEqual({ timestampMs: 7_000 + 900 + 3, offset: 2_039 });
    const unlink = segment.markDeleted();
    expect(
      readdirSync(dir.path)
        .filter((name) => name.startsWith("00000000000000002000"))
        .sort(),
    ).toEqual([
      "00000000000000002000.index.deleted",
      "00000000000000002000.log.deleted",
      "00000000000000002000.timeindex.deleted",
    ]);
    unlink();
    expect(readdirSync(dir.path).filter((name) => name.startsWith("00000000000000002000"))).toEqual([]);
  });

  test("refuses appends after sealing, deleting the active segment, and a create over existing data", async () => {
    const segment = Segment.create(dir.path, 3_000, config);
    appendBatches(segment, 1, 1);
    expect(() => segment.markDeleted()).toThrow(/active segment/);
    await segment.seal();
    expect(() => appendBatches(segment, 1, 1)).toThrow(/sealed/);
    expect(() => Segment.create(dir.path, 3_000, config)).toThrow(/already holds/);
    await segment.close();
  });
});
