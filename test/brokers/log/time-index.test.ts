import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { TimeIndex } from "../../../brokers/log/time-index.ts";
import { tempDir } from "./log-test-support.ts";

const dir = tempDir("time-index");
afterAll(dir.remove);

describe("TimeIndex", () => {
  test("keeps only growing timestamps and finds the last entry before a time", () => {
    const index = TimeIndex.createActive(join(dir.path, "a.timeindex"), 100, 4096);
    expect(index.maybeAppend(1_000, 109)).toBe(true);
    expect(index.maybeAppend(900, 119)).toBe(false);
    expect(index.maybeAppend(2_000, 129)).toBe(true);
    expect(index.maybeAppend(3_000, 139)).toBe(true);
    expect(index.lastEntryBefore(1_000)).toBeUndefined();
    expect(index.lastEntryBefore(1_001)).toEqual({ timestampMs: 1_000, offset: 109 });
    expect(index.lastEntryBefore(2_500)).toEqual({ timestampMs: 2_000, offset: 129 });
    expect(index.lastEntryBefore(9_999)).toEqual({ timestampMs: 3_000, offset: 139 });
    index.seal();
    expect(index.entryCount).toBe(3);
    expect(index.lastEntry()).toEqual({ timestampMs: 3_000, offset: 139 });
    index.release();
  });

  test("a sealed time index reopens through mmap; large timestamps survive", () => {
    const path = join(dir.path, "b.timeindex");
    const writer = TimeIndex.createActive(path, 0, 4096);
    const baseMs = 1_752_846_153_000;
    for (let entry = 0; entry < 200; entry++) writer.maybeAppend(baseMs + entry * 1000, entry * 10);
    writer.seal();
    writer.release();
    const reader = TimeIndex.openSealed(path, 0, 4096);
    if (typeof reader === "string") throw new Error(reader);
    expect(reader.lastEntryBefore(baseMs + 50_500)).toEqual({ timestampMs: baseMs + 50_000, offset: 500 });
    expect(reader.lastEntry()).toEqual({ timestampMs: baseMs + 199_000, offset: 1990 });
    reader.release();
  });

  test("the last slot is kept for the entry sealing writes (isFull one entry early)", () => {
    const index = TimeIndex.createActive(join(dir.path, "full.timeindex"), 0, 4096);
    const entriesMax = Math.floor(4096 / 12);
    for (let entry = 0; entry < entriesMax - 1; entry++) index.maybeAppend(1_000 + entry, entry);
    expect(index.isFull).toBe(true);
    expect(() => index.maybeAppend(999_999, 5_000)).toThrow(/full/);
    expect(index.maybeAppend(999_999, 5_000, { sealing: true })).toBe(true);
    expect(index.entryCount).toBe(entriesMax);
    expect(() => index.maybeAppend(1_000_000, 5_001, { sealing: true })).toThrow(/full/);
    index.seal();
    expect(index.lastEntry()).toEqual({ timestampMs: 999_999, offset: 5_000 });
    expect(() => index.entryAt(entriesMax)).toThrow(RangeError);
    index.release();
  });
});
