import { describe, expect, test } from "bun:test";
import {
  BatchBuilder,
  BatchTooLargeError,
  batchHeaderBytes,
  CorruptBatchError,
  dataViewOf,
  decodeRecords,
  encodeBatch,
  forEachRecord,
  iterateBatches,
  iterateRecords,
  readBatchHeader,
  stampBaseOffset,
  validateBatches,
  verifyBatch,
} from "../../../src/broker-protocol/record-batch.ts";

const text = new TextDecoder();
const limits = { batchBytesMax: 1024 * 1024, batchesMax: 100 };

function sample(producerId = 42, baseSequence = 7): Uint8Array {
  return encodeBatch({
    records: [
      { key: "gpu-a", value: '{"v":1}', timestampMs: 1_000_005 },
      { key: new Uint8Array([1, 2, 3]), value: new Uint8Array([9, 8]), timestampMs: 1_000_000 },
      { key: "", value: "ünïcødé ✓", timestampMs: 1_000_010 },
    ],
    producerId,
    baseSequence,
    nowMs: 1,
  });
}

describe("encodeBatch / decodeRecords", () => {
  test("round-trips keys, values and timestamps; offsets follow the stamped base offset", () => {
    const bytes = sample();
    stampBaseOffset(bytes, 0, 1_000);
    const records = decodeRecords(bytes);
    expect(records.map((record) => record.offset)).toEqual([1_000, 1_001, 1_002]);
    expect(records.map((record) => record.timestampMs)).toEqual([1_000_005, 1_000_000, 1_000_010]);
    expect(text.decode(records[0]!.key)).toBe("gpu-a");
    expect(text.decode(records[0]!.value)).toBe('{"v":1}');
    expect([...records[1]!.key]).toEqual([1, 2, 3]);
    expect([...records[1]!.value]).toEqual([9, 8]);
    expect(records[2]!.key.length).toBe(0);
    expect(text.decode(records[2]!.value)).toBe("ünïcødé ✓");
  });

  test("the header carries counts, first/max timestamp and the producer's sequence", () => {
    const header = readBatchHeader(dataViewOf(sample()), 0);
    expect(header).toMatchObject({
      recordCount: 3,
      lastOffsetDelta: 2,
      firstTimestampMs: 1_000_005,
      maxTimestampMs: 1_000_010,
      producerId: 42,
      baseSequence: 7,
      magic: 1,
    });
    expect(header.batchLength + 12).toBe(sample().length);
  });

  test("a non-idempotent batch stores producer id -1 and sequence -1", () => {
    const header = readBatchHeader(dataViewOf(sample(-1, 5)), 0);
    expect(header.producerId).toBe(-1);
    expect(header.baseSequence).toBe(-1);
    expect(validateBatches(sample(-1, 5), limits)).toHaveLength(1);
  });

  test("records are views into the fetched bytes, not copies", () => {
    const bytes = sample();
    const [first] = decodeRecords(bytes);
    expect(first!.value.buffer).toBe(bytes.buffer);
  });

  test("refuses an empty batch and an oversized key", () => {
    expect(() => encodeBatch({ records: [], producerId: -1, baseSequence: -1, nowMs: 0 })).toThrow(BatchTooLargeError);
    const key = "k".repeat(70_000);
    expect(() =>
      encodeBatch({ records: [{ key, value: "", timestampMs: 0 }], producerId: -1, baseSequence: -1, nowMs: 0 }),
    ).toThrow(BatchTooLargeError);
  });
});

describe("CRC", () => {
  test("stamping the base offset keeps the CRC valid", () => {
    const bytes = sample();
    stampBaseOffset(bytes, 0, 123_456_789_012);
    expect(verifyBatch(bytes, 0, bytes.length)).toBe(true);
    expect(readBatchHeader(dataViewOf(bytes), 0).baseOffset).toBe(123_456_789_012);
  });

  test("a flipped bit anywhere after the CRC field is detected", () => {
    const original = sample();
    for (let position = 17; position < original.length; position++) {
      const bytes = original.slice();
      bytes[position]! ^= 0x10;
      expect(verifyBatch(bytes, 0, bytes.length)).toBe(false);
    }
  });

  test("validateBatches names the position of a corrupt batch", () => {
    const first = sample();
    const second = sample();
    second[batchHeaderBytes + 3]! ^= 1;
    const joined = new Uint8Array([...first, ...second]);
    expect(() => validateBatches(joined, limits)).toThrow(
      new CorruptBatchError(`batch at ${first.length}: CRC mismatch`),
    );
  });

  test("validateBatches refuses a truncated batch, trailing bytes and too many batches", () => {
    const bytes = sample();
    expect(() => validateBatches(bytes.subarray(0, bytes.length - 1), limits)).toThrow(/only/);
    expect(() => validateBatches(new Uint8Array([...bytes, 1, 2, 3]), limits)).toThrow(/trailing bytes/);
    expect(() => validateBatches(new Uint8Array([...bytes, ...bytes]), { ...limits, batchesMax: 1 })).toThrow(
      /more than 1 batches/,
    );
    expect(() => validateBatches(bytes, { ...limits, batchBytesMax: 64 })).toThrow(/above the limit 64/);
  });
});

describe("iterating fetched bytes", () => {
  test("walks every batch and record, and ignores an incomplete trailing batch", () => {
    const first = sample();
    const second = sample(-1, -1);
    stampBaseOffset(first, 0, 10);
    stampBaseOffset(second, 0, 13);
    const joined = new Uint8Array([...first, ...second, ...second.subarray(0, 20)]);
    expect([...iterateBatches(joined)].map((batch) => batch.header.baseOffset)).toEqual([10, 13]);
    expect([...iterateRecords(joined)].map((record) => record.offset)).toEqual([10, 11, 12, 13, 14, 15]);
    const offsets: number[] = [];
    expect(forEachRecord(joined, (record) => offsets.push(record.offset))).toBe(6);
    expect(offsets).toEqual([10, 11, 12, 13, 14, 15]);
  });
});

describe("BatchBuilder", () => {
  const encoder = new TextEncoder();
  const records = [
    { key: "gpu-a", value: '{"v":1}', timestampMs: 1_000_005 },
    { key: "gpu-b", value: new Uint8Array([9, 8]), timestampMs: 1_000_000 },
    { key: "", value: "ünïcødé ✓", timestampMs: 1_000_010 },
  ];

  test("writes the same bytes as encodeBatch, into a reused dirty buffer, and re-finishes in place", () => {
    const expected = encodeBatch({ records, producerId: 42, baseSequence: 7, nowMs: 1 });
    const builder = new BatchBuilder(new Uint8Array(4096).fill(0xee));
    for (const record of records)
      expect(builder.tryAppend(encoder.encode(record.key), record.value, record.timestampMs)).toBeGreaterThan(0);
    expect([...builder.finish(42, 7)]).toEqual([...expected]);
    const again = builder.finish(99, 0);
    expect(readBatchHeader(dataViewOf(again), 0).producerId).toBe(99);
    expect(verifyBatch(again, 0, again.length)).toBe(true);
    const moved = builder.copyTo(new Uint8Array(builder.sizeBytes)).finish(42, 7);
    expect([...moved]).toEqual([...expected]);
  });

  test("refuses what does not fit, leaving the batch valid: buffer full, string too long, timestamp too far", () => {
    const builder = new BatchBuilder(new Uint8Array(batchHeaderBytes + 40));
    const key = encoder.encode("k");
    expect(builder.tryAppend(key, new Uint8Array(20), 5_000)).toBe(31);
    expect(builder.tryAppend(key, new Uint8Array(20), 5_000)).toBe(-1);
    expect(builder.tryAppend(key, "é".repeat(10), 5_000)).toBe(-1);
    expect(builder.tryAppend(key, "", 5_000 + 2 ** 31)).toBe(-1);
    const bytes = builder.finish(-1, -1);
    expect(validateBatches(bytes, limits)).toHaveLength(1);
    expect(decodeRecords(bytes).map((record) => record.value.length)).toEqual([20]);
    expect(() => builder.tryAppend(new Uint8Array(0x10000), "", 5_000)).toThrow(BatchTooLargeError);
  });
});
