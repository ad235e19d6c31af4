import type { ClickHouseClient } from "@clickhouse/client";
import type { SourceTopic } from "../../src/clickhouse/source-columns.ts";
import { storedOffsetCount, storedOffsetMax, storedOffsetsIn } from "../../src/clickhouse/stored-offsets.ts";
import type { CheckedRows } from "./insert-coalescer.ts";

/**
 * Which rows of a partition ClickHouse already holds, so a collector inserts each
 * record once whatever happened before it took the partition: a crash between insert
 * and commit, an operator's rewind to any offset, a lost commit, a restored broker
 * directory. The datapoints table is the only truth asked: nothing depends on a
 * replay cutting the ranges its predecessor cut, nor on ClickHouse still
 * remembering a dedup token.
 *
 * On taking a partition (or jumping in it) the writer asks for the highest stored
 * offset (`storedThrough`). Offsets above it were never stored. At or below it most
 * are, but not necessarily all: one insert is one part per day partition of the
 * table, and a crash can commit some of them. So each range that reaches back to
 * or below `storedThrough` asks how many of its offsets are stored, and only when
 * fewer than its rows (or when rejected records leave gaps in them), which ones: the
 * exact answer at the cost of one small query per range while a partition is being
 * caught up, none afterwards.
 */
export class StoredOffsetsGate {
  constructor(
    private readonly client: ClickHouseClient,
    readonly topic: SourceTopic,
  ) {}

  /** The highest stored offset of the partition, -1 when nothing of it is stored. */
  async storedThrough(partition: number): Promise<number> {
    const stored = await storedOffsetMax(this.client, this.topic, [partition]);
    return stored.get(partition) ?? -1;
  }

  /** The rows of `checked` ClickHouse does not hold yet; rows above `storedThrough` are kept unasked. */
  async unstored(partition: number, checked: CheckedRows, storedThrough: number): Promise<UnstoredRows> {
    const { offsets } = checked;
    const askedCount = countAtOrBelow(offsets, storedThrough);
    if (askedCount === 0) return { ...checked, skipped: 0 };
    const range = {
      topic: this.topic,
      partition,
      first: offsets[0] as number,
      last: offsets[askedCount - 1] as number,
    };
    // With no rejected record among them the asked offsets are the whole range, so a
    // count equal to theirs means every one is stored; otherwise ask which.
    const contiguous = range.last - range.first + 1 === askedCount;
    if (contiguous && (await storedOffsetCount(this.client, range)) === askedCount)
      return keepFrom(checked, askedCount);
    const stored = new Set(await storedOffsetsIn(this.client, range));
    return keepUnless(checked, (offset) => stored.has(offset));
  }
}

export interface UnstoredRows extends CheckedRows {
  /** Rows left out because ClickHouse holds them. */
  skipped: number;
}

/** How many of the ascending offsets are at or below `through`. */
function countAtOrBelow(offsets: readonly number[], through: number): number {
  let low = 0;
  let high = offsets.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((offsets[middle] as number) <= through) low = middle + 1;
    else high = middle;
  }
  return low;
}

function keepFrom(checked: CheckedRows, start: number): UnstoredRows {
  const rows = checked.rows.slice(start);
  return {
    rows,
    offsets: checked.offsets.slice(start),
    rowBytes: rows.reduce((sum, row) => sum + row.byteLength, 0),
    skipped: start,
  };
}

function keepUnless(checked: CheckedRows, isStored: (offset: number) => boolean): UnstoredRows {
  const rows: Uint8Array[] = [];
  const offsets: number[] = [];
  let rowBytes = 0;
  for (const [index, offset] of checked.offsets.entries()) {
    if (isStored(offset)) continue;
    const row = checked.rows[index] as Uint8Array;
    rows.push(row);
    offsets.push(offset);
    rowBytes += row.byteLength;
  }
  return { rows, offsets, rowBytes, skipped: checked.rows.length - rows.length };
}
