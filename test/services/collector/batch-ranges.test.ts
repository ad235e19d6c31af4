import { expect, test } from "bun:test";
import { cutRanges } from "../../../services/collector/batch-ranges.ts";

test("cuts the offsets on hand into chunks of rowsMax from the first one", () => {
  expect(cutRanges({ firstOffset: 10, lastOffset: 34, rowsMax: 10, announced: [] })).toEqual([
    { first: 10, last: 19 },
    { first: 20, last: 29 },
    { first: 30, last: 34 },
  ]);
  expect(cutRanges({ firstOffset: 0, lastOffset: 0, rowsMax: 5, announced: [] })).toEqual([{ first: 0, last: 0 }]);
});

test("keeps announced ranges exactly, whatever rowsMax is now, and cuts the rest after them", () => {
  const announced = [
    { first: 100, last: 103 },
    { first: 104, last: 150 },
  ];
  expect(cutRanges({ firstOffset: 100, lastOffset: 170, rowsMax: 15, announced })).toEqual([
    ...announced,
    { first: 151, last: 165 },
    { first: 166, last: 170 },
  ]);
});

test("refuses announced ranges that do not line up with the offsets on hand", () => {
  expect(() =>
    cutRanges({ firstOffset: 100, lastOffset: 170, rowsMax: 15, announced: [{ first: 101, last: 110 }] }),
  ).toThrow("does not start");
  expect(() =>
    cutRanges({ firstOffset: 100, lastOffset: 170, rowsMax: 15, announced: [{ first: 100, last: 171 }] }),
  ).toThrow("ends after");
  expect(() => cutRanges({ firstOffset: 5, lastOffset: 4, rowsMax: 15, announced: [] })).toThrow("bad offset range");
  expect(() => cutRanges({ firstOffset: 0, lastOffset: 4, rowsMax: 0, announced: [] })).toThrow("rowsMax");
});
