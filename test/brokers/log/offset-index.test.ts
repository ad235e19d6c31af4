import { afterAll, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OffsetIndex } from "../../../brokers/log/offset-index.ts";
import { tempDir } from "./log-test-support.ts";

const dir = tempDir("offset-index");
afterAll(dir.remove);

describe("OffsetIndex", () => {
  test("an active index is preallocated, looks up the floor entry, and trims to its entries when sealed", () => {
    const path = join(dir.path, "a.index");
    const index = OffsetIndex.createActive(path, 1_000, 4096);
    expect(statSync(path).size).toBe(4096);
    for (let entry = 0; entry < 100; entry++) index.append(1_000 + entry * 10, entry * 500);
    index.writeNewEntries();
    expect(index.lookup(999)).toEqual({ offset: 1_000, position: 0 });
    expect(index.lookup(1_000)).toEqual({ offset: 1_000, position: 0 });
    expect(index.lookup(1_015)).toEqual({ offset: 1_010, position: 500 });
    expect(index.lookup(1_020)).toEqual({ offset: 1_020, position: 1_000 });
    expect(index.lookup(99_999)).toEqual({ offset: 1_990, position: 49_500 });
    index.seal();
    expect(statSync(path).size).toBe(800);
    expect(index.lookup(1_015)).toEqual({ offset: 1_010, position: 500 });
    index.release();
  });

  test("a sealed file reopens through mmap with the same answers", () => {
    const path = join(dir.path, "b.index");
    const writer = OffsetIndex.createActive(path, 0, 4096);
    for (let entry = 0; entry < 300; entry++) writer.append(entry * 3, entry * 64);
    writer.seal();
    writer.release();
    const reader = OffsetIndex.openSealed(path, 0, 4096);
    if (typeof reader === "string") throw new Error(reader);
    expect(reader.entryCount).toBe(300);
    for (let offset = 0; offset < 900; offset += 7) {
      const floor = Math.floor(offset / 3);
      expect(reader.lookup(offset)).toEqual({ offset: floor * 3, position: floor * 64 });
    }
    reader.release();
  });

  test("an index whose size is not a whole number of entries or whose keys go backwards is rejected", () => {
    const odd = join(dir.path, "odd.index");
    writeFileSync(odd, new Uint8Array(12));
    expect(OffsetIndex.openSealed(odd, 0, 4096)).toMatch(/not a multiple/);
    const unsorted = join(dir.path, "unsorted.index");
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(0, 5, true);
    writeFileSync(unsorted, bytes);
    expect(OffsetIndex.openSealed(unsorted, 0, 4096)).toMatch(/out of order/);
  });

  test("an empty sealed index answers with the segment start", () => {
    const path = join(dir.path, "empty.index");
    writeFileSync(path, new Uint8Array(0));
    const index = OffsetIndex.openSealed(path, 77, 4096);
    if (typeof index === "string") throw new Error(index);
    expect(index.lookup(100)).toEqual({ offset: 77, position: 0 });
  });

  test("refuses entries past indexBytesMax and keys that go backwards", () => {
    const index = OffsetIndex.createActive(join(dir.path, "full.index"), 0, 4096);
    for (let entry = 0; entry < 512; entry++) index.append(entry, entry);
    expect(index.isFull).toBe(true);
    expect(() => index.append(600, 600)).toThrow(/full/);
    index.release();
    const backwards = OffsetIndex.createActive(join(dir.path, "backwards.index"), 0, 4096);
    backwards.append(10, 0);
    expect(() => backwards.append(5, 10)).toThrow(/key 5 after 10/);
    backwards.release();
  });

  test("entries and offsets outside the index are refused, naming the file", () => {
    const path = join(dir.path, "bounds.index");
    const index = OffsetIndex.createActive(path, 1_000, 4096);
    for (let entry = 0; entry < 3; entry++) index.append(1_000 + entry, entry * 100);
    expect(index.entryAt(2)).toEqual({ offset: 1_002, position: 200 });
    expect(() => index.entryAt(3)).toThrow(`entry 3 of ${path}, which holds 3`);
    expect(() => index.entryAt(-1)).toThrow(RangeError);
    expect(() => index.append(999, 400)).toThrow(`offset 999 not representable relative to 1000 in ${path}`);
    expect(() => index.append(1_000 + 2 ** 32, 400)).toThrow(/not representable/);
    expect(() => index.append(1_010, 2 ** 32)).toThrow(/position/);
    expect(index.entryCount).toBe(3);
    index.release();
  });
});
