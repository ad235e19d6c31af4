import { describe, expect, test } from "bun:test";
import { TailColumns } from "../../../../services/api/live/tail-columns.ts";

const push = (columns: TailColumns, offset: number) =>
  columns.pushValues(offset, offset % 3, offset * 10, offset, offset / 2, 1, 0);

describe("TailColumns", () => {
  test("rows go in at the end and out at the front, through growth and compaction", () => {
    const columns = new TailColumns(10_000);
    for (let offset = 0; offset < 1_000; offset += 1) push(columns, offset);
    expect(columns.countBelow(600)).toBe(600);
    columns.shift(600);
    for (let offset = 1_000; offset < 3_000; offset += 1) push(columns, offset);
    expect(columns.size).toBe(2_400);
    expect(columns.offset[columns.first]).toBe(600);
    expect(columns.ts[columns.first + 100]).toBe(7_000);
    expect(columns.countBelow(600)).toBe(0);
    expect(columns.countBelow(2_000)).toBe(1_400);
    expect(columns.countBelow(10_000)).toBe(2_400);
    columns.shift(2_400);
    expect(columns.size).toBe(0);
  });

  test("more than rowsMax rows is an error, not a silent growth", () => {
    const columns = new TailColumns(300);
    for (let offset = 0; offset < 300; offset += 1) push(columns, offset);
    expect(() => push(columns, 300)).toThrow(/rowsMax 300/);
    columns.shift(1);
    push(columns, 300);
    expect(columns.size).toBe(300);
    expect(() => columns.shift(301)).toThrow(RangeError);
  });
});
