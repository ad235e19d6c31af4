import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadLog } from "../../../brokers/log/log-loader.ts";
import type { PartitionLog } from "../../../brokers/log/partition-log.ts";
import { decodeRecords, iterateBatches, verifyBatch } from "../../../src/broker-protocol/record-batch.ts";
import { ManualClock, makeBatch, openPartition, smallConfig, tempDir } from "./log-test-support.ts";

const config = smallConfig({ segmentBytesMax: 4096, appendBytesMax: 4096 });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A closed partition directory with `batches` batches of 3..7 records over several segments. */
async function writeLog(batches: number): Promise<{ dir: string; clock: ManualClock }> {
  const dir = tempDir("log-loader");
  cleanups.push(dir.remove);
  const clock = new ManualClock();
  const log = openPartition(dir.path, config, clock);
  for (let index = 0; index < batches; index++) {
    await log.append(
      makeBatch({
        records: 3 + (index % 5),
        timestampMs: clock.nowMs(),
        tag: `batch${index}`,
        producerId: 1,
        baseSequence: sequenceAt(index),
      }),
    );
    clock.advance(5);
  }
  await log.close();
  return { dir: dir.path, clock };
}

function sequenceAt(batchIndex: number): number {
  let sequence = 0;
  for (let index = 0; index < batchIndex; index++) sequence += 3 + (index % 5);
  return sequence;
}

function logFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".log"))
    .sort();
}

/** Every batch of the log, in order, read through the public API: [baseOffset, lastOffset, record values]. */
function readAll(log: PartitionLog): Array<{ baseOffset: number; values: string[] }> {
  const batches: Array<{ baseOffset: number; values: string[] }> = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const result = log.read(offset, 1 << 20);
    for (const batch of iterateBatches(result.bytes)) {
      expect(verifyBatch(result.bytes, batch.position, batch.sizeBytes)).toBe(true);
      const bytes = result.bytes.subarray(batch.position, batch.position + batch.sizeBytes);
      batches.push({
        baseOffset: batch.header.baseOffset,
        values: decodeRecords(bytes).map((record) => new TextDecoder().decode(record.value)),
      });
    }
    offset = result.nextOffset;
  }
  return batches;
}

function open(dir: string, clock: ManualClock): PartitionLog {
  const log = openPartition(dir, config, clock);
  cleanups.push(() => log.close());
  return log;
}

describe("recovery", () => {
  test("a clean reopen keeps everything and re-verifies only from the recovery point", async () => {
    const { dir, clock } = await writeLog(60);
    const log = open(dir, clock);
    expect(log.highWatermark).toBe(Number(readFileSync(join(dir, "recovery-point"), "utf8")));
    expect(readAll(log)).toHaveLength(60);
  });

  test("a torn tail is truncated to the last whole batch and appends continue after it", async () => {
    const { dir, clock } = await writeLog(30);
    const last = join(dir, logFiles(dir).at(-1)!);
    const pristine = readFileSync(last);
    const batches = [...iterateBatches(pristine)];
    const cut = batches.at(-1)!.position + 20;
    truncateSync(last, cut);
    writeFileSync(join(dir, "recovery-point"), "0");
    const loaded = loadLog({ dir, config, nowMs: clock.nowMs() });
    expect(loaded.truncatedBytes).toBe(20);
    expect(loaded.segments.at(-1)!.nextOffset).toBe(batches.at(-1)!.header.baseOffset);
    for (const segment of loaded.segments) await segment.close();
    const log = open(dir, clock);
    expect(readAll(log)).toHaveLength(29);
    const appended = await log.append(makeBatch({ records: 2, timestampMs: clock.nowMs() }));
    expect(appended.baseOffset).toBe(batches.at(-1)!.header.baseOffset);
  });

  test("removes leftover .deleted and .tmp files and rebuilds a missing index", async () => {
    const { dir, clock } = await writeLog(30);
    writeFileSync(join(dir, "00000000000000000000.log.deleted"), "old");
    writeFileSync(join(dir, "recovery-point.tmp"), "12");
    rmSync(join(dir, "00000000000000000000.index"));
    const log = open(dir, clock);
    expect(readdirSync(dir).filter((name) => name.endsWith(".deleted") || name.endsWith(".tmp"))).toEqual([]);
    expect(existsSync(join(dir, "00000000000000000000.index"))).toBe(true);
    expect(readAll(log)).toHaveLength(30);
  });

  test("a segment that does not continue the previous one is dropped with everything after it", async () => {
    const { dir, clock } = await writeLog(40);
    const files = logFiles(dir);
    expect(files.length).toBeGreaterThan(2);
    rmSync(join(dir, files[1]!));
    writeFileSync(join(dir, "recovery-point"), "0");
    const log = open(dir, clock);
    expect(log.segmentCount).toBe(1);
    expect(log.highWatermark).toBe(Number(files[1]!.slice(0, 20)));
  });

  test("random corruption in the tail: never serves a corrupt batch, keeps every batch before it", async () => {
    const { dir: pristineDir, clock } = await writeLog(40);
    const original = readAll(open(pristineDir, clock));
    await cleanups.pop()!();
    const files = logFiles(pristineDir);
    const fileBatches = files.map((name) => [...iterateBatches(readFileSync(join(pristineDir, name)))]);
    const random = seededRandom(0xc0ffee);
    for (let iteration = 0; iteration < 60; iteration++) {
      const work = tempDir("log-loader-fuzz");
      cleanups.push(work.remove);
      cpSync(pristineDir, work.path, { recursive: true });
      // Recovery re-reads from the recovery point: put it in the second-to-last segment.
      writeFileSync(join(work.path, "recovery-point"), String(Number(files.at(-2)!.slice(0, 20))));
      const fileIndex = files.length - 1 - Math.floor(random() * 2);
      const path = join(work.path, files[fileIndex]!);
      const bytes = readFileSync(path);
      let firstChanged = bytes.length;
      for (let hit = 0; hit < 1 + Math.floor(random() * 4); hit++) {
        const position = Math.floor(random() * bytes.length);
        const value = Math.floor(random() * 256);
        if (bytes[position] !== value) firstChanged = Math.min(firstChanged, position);
        bytes[position] = value;
      }
      writeFileSync(path, bytes);
      const log = openPartition(work.path, config, clock);
      cleanups.push(() => log.close());
      const recovered = readAll(log);
      // Everything served equals the original, batch for batch.
      expect(recovered).toEqual(original.slice(0, recovered.length));
      // Every batch that ends before the first changed byte is kept.
      const intact = fileBatches[fileIndex]!.filter((batch) => batch.position + batch.sizeBytes <= firstChanged);
      const intactEnd =
        intact.length > 0
          ? intact.at(-1)!.header.baseOffset + intact.at(-1)!.header.recordCount
          : Number(files[fileIndex]!.slice(0, 20));
      expect(log.highWatermark).toBeGreaterThanOrEqual(intactEnd);
      await cleanups.pop()!();
      await cleanups.pop()!();
    }
  }, 30_000);
});

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}
