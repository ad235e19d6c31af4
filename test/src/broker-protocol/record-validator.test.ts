import { describe, expect, test } from "bun:test";
import {
  BatchBuilder,
  CorruptBatchError,
  dataViewOf,
  encodeBatch,
  producerIdNone,
  sequenceNone,
  writeInt64,
} from "../../../src/broker-protocol/record-batch.ts";
import { timestampMsMax, validateBatchesAndRecords } from "../../../src/broker-protocol/record-validator.ts";
import { batchField, recordStart, reseal } from "../../support/batch-surgery.ts";

const limits = { batchBytesMax: 1024 * 1024, batchesMax: 100 };

function sample(): Uint8Array {
  return encodeBatch({
    records: [
      { key: "gpu-a", value: "one", timestampMs: 1_000_005 },
      { key: "gpu-b", value: "two", timestampMs: 1_000_000 },
      { key: "", value: "three", timestampMs: 1_000_010 },
    ],
    producerId: producerIdNone,
    baseSequence: sequenceNone,
    nowMs: 1,
  });
}

function problemOf(batch: Uint8Array): string {
  try {
    validateBatchesAndRecords(batch, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(CorruptBatchError);
    return (error as Error).message;
  }
  return "accepted";
}

describe("validateBatchesAndRecords", () => {
  test("accepts what encodeBatch and BatchBuilder write, several batches in a row", () => {
    const builder = new BatchBuilder(new Uint8Array(4096));
    builder.tryAppend(new Uint8Array([1]), "x", 5);
    builder.tryAppend(new Uint8Array([2]), new Uint8Array(0), 3);
    const built = builder.finish(producerIdNone, sequenceNone);
    const both = new Uint8Array([...sample(), ...built]);
    expect(validateBatchesAndRecords(both, limits).map((batch) => batch.header.recordCount)).toEqual([3, 2]);
  });

  test("the 105-byte batch of the report: a record length past the batch end, behind a valid CRC", () => {
    const batch = encodeBatch({
      records: [{ key: "k", value: "v".repeat(39), timestampMs: 1 }],
      producerId: producerIdNone,
      baseSequence: sequenceNone,
      nowMs: 1,
    });
    expect(batch.byteLength).toBe(105);
    dataViewOf(batch).setUint32(recordStart(batch, 0), 0x7fff_ffff, true);
    expect(problemOf(reseal(batch))).toBe("batch at 0: record 0: length 2147483647 runs past the batch end");
  });

  test("every framing problem is named", () => {
    const cases: Array<[string, (batch: Uint8Array, view: DataView) => unknown, string]> = [
      ["short length", (b, v) => v.setUint32(recordStart(b, 1), 3, true), "record 1: length 3 below 6"],
      [
        "key longer than the record",
        (_b, v) => v.setUint16(recordStart(_b, 0) + 8, 500, true),
        "record 0: key length 500 exceeds the record's 8 bytes",
      ],
      ["trailing bytes", (b) => new Uint8Array([...b, 0, 0, 0]), "3 bytes left after 3 records"],
      [
        "records cut short (count above what is there)",
        (_b, v) => {
          v.setUint32(batchField.recordCount, 4, true);
          v.setUint32(19, 3, true);
        },
        "record 3: header runs past the batch end",
      ],
      [
        "timestamp above maxTimestampMs",
        (b, v) => v.setInt32(recordStart(b, 1) + 4, 60, true),
        "record 1: timestamp 1000065 outside [0, maxTimestampMs 1000010]",
      ],
      [
        "maxTimestampMs not reached by any record",
        (_b, v) => writeInt64(v, batchField.maxTimestampMs, 1_000_020),
        "maxTimestampMs 1000020 but the largest record timestamp is 1000010",
      ],
      [
        "negative timestamp",
        (b, v) => v.setInt32(recordStart(b, 1) + 4, -2_000_000, true),
        "record 1: timestamp -999995 outside [0, maxTimestampMs 1000010]",
      ],
      [
        "first timestamp past year 9999",
        (_b, v) => {
          writeInt64(v, batchField.firstTimestampMs, timestampMsMax + 1);
          writeInt64(v, batchField.maxTimestampMs, timestampMsMax + 1);
        },
        `firstTimestampMs ${timestampMsMax + 1} out of bounds`,
      ],
    ];
    for (const [name, edit, expected] of cases) {
      const batch = sample();
      const result = edit(batch, dataViewOf(batch));
      const edited = reseal(result instanceof Uint8Array ? result : batch);
      expect({ name, problem: problemOf(edited) }).toEqual({ name, problem: `batch at 0: ${expected}` });
    }
  });

  test("a bad record in the second batch names that batch's position", () => {
    const first = sample();
    const second = sample();
    dataViewOf(second).setUint32(recordStart(second, 2), 1_000, true);
    const both = new Uint8Array([...first, ...reseal(second)]);
    expect(problemOf(both)).toBe(`batch at ${first.byteLength}: record 2: length 1000 runs past the batch end`);
  });
});
