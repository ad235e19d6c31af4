import { assertRange, type InsertIntent } from "./offset-range.ts";

export interface CutRangesOptions {
  /** Offsets on hand: every offset from firstOffset through lastOffset. */
  firstOffset: number;
  lastOffset: number;
  rowsMax: number;
  /** Ranges already announced (insert intents) and not known to be committed; kept exactly. */
  announced: readonly InsertIntent[];
}

/**
 * The inserts for the offsets on hand: the announced ranges (with their groups) exactly as they were
 * announced, then the rest in chunks of `rowsMax` records from where they end.
 * A pure function of its arguments; the caller has fetched every announced offset.
 */
export function cutRanges(options: CutRangesOptions): InsertIntent[] {
  const { firstOffset, lastOffset, rowsMax, announced } = options;
  if (!Number.isInteger(rowsMax) || rowsMax < 1)
    throw new RangeError(`rowsMax must be a positive integer, got ${rowsMax}`);
  assertRange({ first: firstOffset, last: lastOffset }, "cutRanges");
  const ranges: InsertIntent[] = [];
  let next = firstOffset;
  for (const range of announced) {
    assertRange(range, "cutRanges announced");
    if (range.first !== next) {
      throw new Error(`announced range ${range.first}..${range.last} does not start at the next offset ${next}`);
    }
    if (range.last > lastOffset) {
      throw new Error(
        `announced range ${range.first}..${range.last} ends after the offsets on hand (last ${lastOffset})`,
      );
    }
    ranges.push(range);
    next = range.last + 1;
  }
  while (next <= lastOffset) {
    const last = Math.min(lastOffset, next + rowsMax - 1);
    ranges.push({ first: next, last });
    next = last + 1;
  }
  return ranges;
}
