import { describe, expect, test } from "bun:test";
import { RowTable } from "../../../services/streamer/row-table.ts";

const keys = ["gpu-a", "gpu-b", "gpu-a", "gpu-c", "gpu-b", "gpu-a"];
const tails = keys.map((key, row) => new TextEncoder().encode(`${key}:${row}`));
const partitionOf = (key: string) => ({ "gpu-a": 0, "gpu-b": 1, "gpu-c": 1 })[key] ?? 2;

describe("RowTable", () => {
  test("a partition's cursor walks its rows in file order, pass after pass", () => {
    const table = new RowTable(keys, tails, 3, partitionOf);
    expect(table.rowCountOf(0)).toBe(3);
    expect(table.rowCountOf(1)).toBe(3);
    expect(table.rowCountOf(2)).toBe(0);
    const cursor = table.cursorAt(1, 0)!;
    const positions: number[] = [];
    for (let step = 0; step < 5; step += 1) {
      positions.push(table.position(1, cursor));
      table.advance(1, cursor);
    }
    expect(positions).toEqual([1, 3, 4, 7, 9]);
    // From any position, the partition's next row at or after it.
    expect(table.position(0, table.cursorAt(0, 3)!)).toBe(5);
    expect(table.position(0, table.cursorAt(0, 6)!)).toBe(6);
    expect(table.position(0, table.cursorAt(0, 12 + 3)!)).toBe(12 + 5);
    expect(table.cursorAt(2, 0)).toBeUndefined();
    // Partition 1 holds rows 1, 3, 4 of each pass of 6.
    expect(table.rowsBefore(1, 0)).toBe(0);
    expect(table.rowsBefore(1, 4)).toBe(2);
    expect(table.rowsBefore(1, 6 * 10 + 2)).toBe(31);
    expect(table.rowsBefore(2, 100)).toBe(0);
  });

  test("a record is matched back to its row by key and tail, never by a near miss", () => {
    const table = new RowTable(keys, tails, 3, partitionOf);
    const key = new TextEncoder().encode("gpu-a");
    expect(table.rowsMatching(key, tails[2]!)).toEqual([2]);
    expect(table.rowsMatching(new TextEncoder().encode("gpu-b"), tails[2]!)).toEqual([]);
    expect(table.rowsMatching(key, new TextEncoder().encode("gpu-a:7"))).toEqual([]);
    const twins = new RowTable(["k", "k"], [tails[0]!, tails[0]!], 1, () => 0);
    expect(twins.rowsMatching(new TextEncoder().encode("k"), tails[0]!)).toEqual([0, 1]);
  });
});
