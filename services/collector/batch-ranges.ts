import { assertRange, type OffsetRange } from "./offset-range.ts";

export interface CutRangesOptions {
  /** Offsets on hand: every offset from firstOffset through lastOffset. */
  firstOffset: number;
  lastOffset: number;
  rowsMax: number;
}

/**
 * The inserts for the offsets on hand: chunks of `rowsMax` records. Any cut is
 * right: a replay skips what ClickHouse holds by offset, not by range.
 */
export function cutRanges(options: CutRangesOptions): OffsetRange[] {
  const { firstOffset, lastOffset, rowsMax } = options;
  if (!Number.isInteger(rowsMax) || rowsMax < 1)
    throw new RangeError(`rowsMax must be a positive integer, got ${rowsMax}`);
  assertRange({ first: firstOffset, last: lastOffset }, "cutRanges");
  const ranges: OffsetRange[] = [];
  for (let next = firstOffset; next <= lastOffset; ) {
    const last = Math.min(lastOffset, next + rowsMax - 1);
    ranges.push({ first: next, last });
    next = last + 1;
  }
  return ranges;
}
