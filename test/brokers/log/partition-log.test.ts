import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LimitExceededError, OffsetOutOfRangeError, OutOfOrderSequenceError } from "../../../brokers/log/errors.ts";
import type { PartitionLog } from "../../../brokers/log/partition-log.ts";
import {
  BatchTooLargeError,
  CorruptBatchError,
  decodeRecords,
  iterateBatches,
  verifyBatch,
} from "../../../src/broker-protocol/record-batch.ts";
import { ManualClock, makeBatch, openPartition, smallConfig, tempDir } from "./log-test-support.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(overrides: Parameters<typeof smallConfig>[0] = {}) {
  const dir = tempDir("partition-log");
  const clock = new ManualClock();
  const config = smallConfig(overrides);
  let log = openPartition(dir.path, config, clock);
  cleanups.push(dir.remove, () => log.close());
  return {
    dir: dir.path,
    clock,
    get log(): PartitionLog {
      return log;
    },
    async reopen(): Promise<PartitionLog> {
      await log.close();
      log = openPartition(dir.path, config, clock);
      return log;
    },
  };
}

async function appendMany(log: PartitionLog, clock: ManualClock, batches: number, recordsPerBatch = 5): Promise<void> {
  for (let index = 0; index < batches; index++) {
    await log.append(makeBatch({ records: recordsPerBatch, timestampMs: clock.nowMs(), tag: `b${index}` }));
    clock.advance(10);
  }
}

function segmentFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort();
}

describe("append and read", () => {
  test("assigns consecutive offsets and reads back the same records", async () => {
    const { log, clock } = setup();
    expect(await log.append(makeBatch({ records: 3, timestampMs: clock.nowMs() }))).toEqual({
      baseOffset: 0,
      lastOffset: 2,
      duplicate: false,
    });
    expect(await log.append(makeBatch({ records: 4, timestampMs: clock.nowMs() }))).toEqual({
      baseOffset: 3,
      lastOffset: 6,
      duplicate: false,
    });
    expect(log.highWatermark).toBe(7);
    const result = log.read(0, 1 << 20);
    expect(result.batchCount).toBe(2);
    expect(result.nextOffset).toBe(7);
    expect(decodeRecords(result.bytes).map((record) => record.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test("one append may carry several batches", async () => {
    const { log, clock } = setup();
    const first = makeBatch({ records: 2, timestampMs: clock.nowMs() });
    const second = makeBatch({ records: 3, timestampMs: clock.nowMs() });
    expect(await log.append(new Uint8Array([...first, ...second]))).toEqual({
      baseOffset: 0,
      lastOffset: 4,
      duplicate: false,
    });
    expect([...iterateBatches(log.read(0, 1 << 20).bytes)].map((batch) => batch.header.baseOffset)).toEqual([0, 2]);
  });

  test("reading from the middle of a batch returns the whole containing batch", async () => {
    const { log, clock } = setup();
    await appendMany(log, clock, 40);
    for (const offset of [0, 3, 57, 101, 199]) {
      const result = log.read(offset, 1);
      const [batch] = [...iterateBatches(result.bytes)];
      expect(result.batchCount).toBe(1);
      expect(batch!.header.baseOffset).toBe(offset - (offset % 5));
      expect(verifyBatch(result.bytes, 0, result.bytes.length)).toBe(true);
    }
  });

  test("maxBytes bounds the read to whole batches but always returns at least one", async () => {
    const { log, clock } = setup();
    await appendMany(log, clock, 10);
    const oneBatchBytes = log.read(0, 1).bytes.length;
    expect(log.read(0, oneBatchBytes * 3 + 10).batchCount).toBe(3);
    expect(log.read(0, oneBatchBytes * 3 - 1).batchCount).toBe(2);
    expect(log.read(0, 1).batchCount).toBe(1);
  });

  test("offsets outside the log are OffsetOutOfRange; the end of the log reads empty", async () => {
    const { log, clock } = setup();
    await appendMany(log, clock, 2);
    expect(log.read(10, 100).bytes.length).toBe(0);
    expect(() => log.read(11, 100)).toThrow(OffsetOutOfRangeError);
    expect(() => log.read(-1, 100)).toThrow(OffsetOutOfRangeError);
  });

  test("rejects a corrupt batch and one over batchBytesMax without storing anything", async () => {
    const { log, clock } = setup();
    const bytes = makeBatch({ records: 3, timestampMs: clock.nowMs() });
    bytes[bytes.length - 1]! ^= 0xff;
    await expect(log.append(bytes)).rejects.toThrow(CorruptBatchError);
    await expect(log.append(makeBatch({ records: 200, timestampMs: clock.nowMs() }))).rejects.toThrow(
      BatchTooLargeError,
    );
    expect(log.highWatermark).toBe(0);
  });
});

describe("segments", () => {
  test("roll by size: no segment exceeds segmentBytesMax and reads span all of them", async () => {
    const { log, clock, dir } = setup({ segmentBytesMax: 4096, appendBytesMax: 4096, batchBytesMax: 4096 });
    await appendMany(log, clock, 60);
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(segmentFiles(dir, ".log")).toHaveLength(log.segmentCount);
    expect(segmentFiles(dir, ".log")[1]).toBe(`${String(log.segmentBaseOffsets()[1]).padStart(20, "0")}.log`);
    let offset = 0;
    const offsets: number[] = [];
    while (offset < log.highWatermark) {
      const result = log.read(offset, 1000);
      for (const record of decodeRecords(result.bytes)) if (record.offset >= offset) offsets.push(record.offset);
      offset = result.nextOffset;
    }
    expect(offsets).toEqual([...Array(300).keys()]);
  });

  test("roll by age once the active segment's first append is segmentMsMax old", async () => {
    const { log, clock } = setup({ segmentMsMax: 1000 });
    await appendMany(log, clock, 5);
    expect(log.segmentCount).toBe(1);
    clock.advance(1000);
    await appendMany(log, clock, 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 25]);
  });

  test("old record timestamps do not make every append roll", async () => {
    const { log, clock } = setup({ segmentMsMax: 1000 });
    for (let index = 0; index < 5; index++)
      await log.append(makeBatch({ records: 2, timestampMs: clock.nowMs() - 86_400_000 }));
    expect(log.segmentCount).toBe(1);
  });

  test("a full index rolls the segment, and the sealed time index still records the segment's max timestamp", async () => {
    const { log, clock } = setup({
      indexBytesMax: 4096,
      indexIntervalBytes: 1,
      segmentBytesMax: 1024 * 1024,
      appendBytesMax: 8192,
    });
    for (let index = 0; index < 400; index++) {
      await log.append(makeBatch({ records: 1, timestampMs: clock.nowMs(), valueBytes: 4 }));
      clock.advance(1);
    }
    const [, second] = log.segmentBaseOffsets();
    expect(second).toBeGreaterThan(300);
    expect(second).toBeLessThan(400);
    expect(log.offsetForTimestamp(clock.nowMs() - 400 + second! - 1)).toBe(second! - 1);
  });

  test("sealed segments have trimmed indexes; the active one's are preallocated", async () => {
    const { log, clock, dir } = setup({ segmentBytesMax: 4096, appendBytesMax: 4096, indexBytesMax: 8192 });
    await appendMany(log, clock, 30);
    const [sealed] = log.segmentBaseOffsets();
    const active = log.segmentBaseOffsets().at(-1)!;
    const size = (name: string) => Bun.file(join(dir, name)).size;
    const stem = (offset: number) => String(offset).padStart(20, "0");
    expect(size(`${stem(sealed!)}.index`) % 8).toBe(0);
    expect(size(`${stem(sealed!)}.index`)).toBeLessThan(8192);
    expect(size(`${stem(sealed!)}.timeindex`) % 12).toBe(0);
    expect(size(`${stem(active)}.index`)).toBe(8192);
  });
});

describe("offsetForTimestamp", () => {
  test("finds the first record at or after a time, across segments", async () => {
    const { log, clock } = setup({ segmentBytesMax: 4096, appendBytesMax: 4096 });
    const startMs = clock.nowMs();
    // Batch i holds records with timestamps startMs + 100 i + 0..4.
    for (let index = 0; index < 50; index++)
      await log.append(makeBatch({ records: 5, timestampMs: startMs + 100 * index }));
    expect(log.segmentCount).toBeGreaterThan(2);
    expect(log.offsetForTimestamp(startMs - 5)).toBe(0);
    expect(log.offsetForTimestamp(startMs + 2)).toBe(2);
    expect(log.offsetForTimestamp(startMs + 3_050)).toBe(155);
    expect(log.offsetForTimestamp(startMs + 4_903)).toBe(248);
    expect(log.offsetForTimestamp(startMs + 99_999)).toBe(log.highWatermark);
  });
});

describe("retention", () => {
  test("by time deletes whole sealed segments whose newest record is too old, never the active one", async () => {
    const { log, clock, dir } = setup({
      segmentBytesMax: 4096,
      appendBytesMax: 4096,
      retentionMs: 60_000,
      fileDeleteDelayMs: 0,
    });
    await appendMany(log, clock, 30);
    const before = log.segmentBaseOffsets();
    expect(log.applyRetention(clock.nowMs())).toBe(0);
    clock.advance(3_600_000);
    expect(log.applyRetention(clock.nowMs())).toBe(before.length - 1);
    expect(log.segmentBaseOffsets()).toEqual([before.at(-1)!]);
    expect(log.logStartOffset).toBe(before.at(-1)!);
    expect(() => log.read(0, 100)).toThrow(OffsetOutOfRangeError);
    await Bun.sleep(20);
    expect(segmentFiles(dir, ".log")).toHaveLength(1);
    expect(segmentFiles(dir, ".deleted")).toHaveLength(0);
  });

  test("by bytes keeps the partition at or above retentionBytes", async () => {
    const { log, clock } = setup({
      segmentBytesMax: 4096,
      appendBytesMax: 4096,
      retentionBytes: 8192,
      fileDeleteDelayMs: 0,
    });
    await appendMany(log, clock, 60);
    const sizeBefore = log.sizeBytes;
    const deleted = log.applyRetention(clock.nowMs());
    expect(deleted).toBeGreaterThan(0);
    expect(log.sizeBytes).toBeGreaterThanOrEqual(8192);
    expect(log.sizeBytes).toBeLessThan(sizeBefore);
    expect(log.sizeBytes).toBeLessThan(8192 + 4096);
  });

  test("a reader keeps its bytes while the segment is deleted; files go to .deleted first", async () => {
    const { log, clock, dir } = setup({
      segmentBytesMax: 4096,
      appendBytesMax: 4096,
      retentionBytes: 0,
      fileDeleteDelayMs: 60_000,
    });
    await appendMany(log, clock, 30);
    const held = log.read(0, 1 << 20);
    const copy = held.bytes.slice();
    expect(log.applyRetention(clock.nowMs())).toBeGreaterThan(0);
    expect(segmentFiles(dir, ".log.deleted").length).toBeGreaterThan(0);
    expect(held.bytes).toEqual(copy);
    for (const batch of iterateBatches(held.bytes))
      expect(verifyBatch(held.bytes, batch.position, batch.sizeBytes)).toBe(true);
    // Reads continue from the new log start.
    expect(log.read(log.logStartOffset, 100).batchCount).toBe(1);
  });
});

describe("idempotent producers", () => {
  test("a retried batch returns the original offsets and is stored once, also after a reopen", async () => {
    const context = setup();
    const { clock } = context;
    const batch = (sequence: number) =>
      makeBatch({ records: 4, timestampMs: clock.nowMs(), producerId: 9, baseSequence: sequence });
    expect(await context.log.append(batch(0))).toEqual({ baseOffset: 0, lastOffset: 3, duplicate: false });
    expect(await context.log.append(batch(4))).toEqual({ baseOffset: 4, lastOffset: 7, duplicate: false });
    expect(await context.log.append(batch(4))).toEqual({ baseOffset: 4, lastOffset: 7, duplicate: true });
    expect(await context.log.append(batch(0))).toEqual({ baseOffset: 0, lastOffset: 3, duplicate: true });
    expect(context.log.highWatermark).toBe(8);
    const reopened = await context.reopen();
    expect(await reopened.append(batch(4))).toEqual({ baseOffset: 4, lastOffset: 7, duplicate: true });
    expect(await reopened.append(batch(8))).toEqual({ baseOffset: 8, lastOffset: 11, duplicate: false });
  });

  test("a sequence gap is refused with OutOfOrderSequenceError naming the expected sequence", async () => {
    const { log, clock } = setup();
    await log.append(makeBatch({ records: 4, timestampMs: clock.nowMs(), producerId: 3, baseSequence: 0 }));
    const gap = log.append(makeBatch({ records: 1, timestampMs: clock.nowMs(), producerId: 3, baseSequence: 6 }));
    await expect(gap).rejects.toThrow(OutOfOrderSequenceError);
    await expect(gap).rejects.toMatchObject({ expectedSequence: 4, receivedSequence: 6 });
    expect(log.highWatermark).toBe(4);
  });

  test("producer state is rebuilt from the log when the snapshot is missing", async () => {
    const context = setup();
    const { clock } = context;
    for (let sequence = 0; sequence < 20; sequence += 2) {
      await context.log.append(
        makeBatch({ records: 2, timestampMs: clock.nowMs(), producerId: 5, baseSequence: sequence }),
      );
    }
    await context.log.close();
    Bun.spawnSync(["rm", join(context.dir, "producer-state.json")]);
    const reopened = await context.reopen();
    expect(reopened.lastSequence(5)).toBe(19);
    expect(
      (await reopened.append(makeBatch({ records: 2, timestampMs: clock.nowMs(), producerId: 5, baseSequence: 18 })))
        .duplicate,
    ).toBe(true);
  });
});

describe("durability", () => {
  test("flush=always acknowledges after fsync and groups concurrent appends", async () => {
    const { log, clock } = setup({ flush: "always" });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => log.append(makeBatch({ records: 2, timestampMs: clock.nowMs() }))),
    );
    expect(results.map((result) => result.baseOffset).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, index) => index * 2),
    );
    expect(log.highWatermark).toBe(40);
    // The first append starts an fsync; the other 19 arrive during it and share the next one.
    expect(log.fsyncCount).toBeLessThanOrEqual(3);
  });

  for (const flush of ["always", "interval", "os"] as const) {
    test(`flush=${flush}: data written before close is there after reopen, recovery point checkpointed`, async () => {
      const context = setup({ flush, flushIntervalMs: 5 });
      await appendMany(context.log, context.clock, 12);
      const reopened = await context.reopen();
      expect(reopened.highWatermark).toBe(60);
      expect(await Bun.file(join(context.dir, "recovery-point")).text()).toBe("60");
      expect(decodeRecords(reopened.read(0, 1 << 20).bytes)).toHaveLength(60);
    });
  }
});

describe("waitForAppend", () => {
  test("resolves true on an append past the offset, false on timeout or abort", async () => {
    const { log, clock } = setup({ appendWaitersMax: 2 });
    const waiting = log.waitForAppend(0, 5_000);
    await log.append(makeBatch({ records: 1, timestampMs: clock.nowMs() }));
    expect(await waiting).toBe(true);
    expect(await log.waitForAppend(0, 5_000)).toBe(true);
    expect(await log.waitForAppend(1, 10)).toBe(false);
    const controller = new AbortController();
    const aborted = log.waitForAppend(1, 5_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe(false);
  });

  test("refuses waiters past appendWaitersMax", () => {
    const { log } = setup({ appendWaitersMax: 1 });
    void log.waitForAppend(0, 50);
    expect(() => log.waitForAppend(0, 50)).toThrow(LimitExceededError);
  });
});

test("a closed log refuses appends and its files are trimmed", async () => {
  const { log, clock, dir } = setup();
  await appendMany(log, clock, 3);
  await log.close();
  await expect(log.append(makeBatch({ records: 1, timestampMs: clock.nowMs() }))).rejects.toThrow(/closed/);
  expect(Bun.file(join(dir, `${"0".padStart(20, "0")}.index`)).size).toBeLessThan(1024);
  expect(existsSync(join(dir, "producer-state.json"))).toBe(true);
});
