import { expect, test } from "bun:test";
import { cutRanges } from "../../../services/collector/batch-ranges.ts";

test("cuts the offsets on hand into chunks of rowsMax from the first one", () => {
  expect(cutRanges({ firstOffset: 10, lastOffset: 34, rowsMax: 10 })).toEqual([
    { first: 10, last: 19 },
    { first: 20, last: 29 },
    { first: 30, last: 34 },
  ]);
  expect(cutRanges({ firstOffset: 0, lastOffset: 0, rowsMax: 5 })).toEqual([{ first: 0, last: 0 }]);
});

test("refuses an empty range and a rowsMax below one", () => {
  expect(() => cutRanges({ firstOffset: 5, lastOffset: 4, rowsMax: 15 })).toThrow("bad offset range");
  expect(() => cutRanges({ firstOffset: 0, lastOffset: 4, rowsMax: 0 })).toThrow("rowsMax");
});
