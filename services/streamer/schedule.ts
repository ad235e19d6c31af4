/**
 * The stream's schedule: the CSV's rows replayed in a loop at a fixed rate from a
 * fixed epoch, the same for every streamer. Position P is row `P % rowCount` of pass
 * `P / rowCount`, due at `epoch + P / rate`; that time is also its processing
 * timestamp. Any streamer computes the same schedule without asking anyone, so the
 * new owner of a GPU continues exactly where the old one stopped (the position after
 * the last one found in the partition) and the rows of a GPU are never sent twice nor
 * skipped (streamer README).
 *
 * Times are computed in one place (`dueMs`) with the same floating-point steps in every
 * process, so every streamer agrees on each row's millisecond to the last bit.
 */

/** 2026-01-01T00:00:00Z: early enough for every clock, late enough that positions stay small. */
export const scheduleEpochMs = Date.UTC(2026, 0, 1);

export class LoopSchedule {
  constructor(
    /** Rows per second of the whole stream, all streamers together; > 0. */
    readonly rowsPerSecond: number,
    /** Rows of one pass (the file's valid rows); >= 1. */
    readonly rowCount: number,
  ) {
    if (!Number.isFinite(rowsPerSecond) || rowsPerSecond <= 0)
      throw new RangeError(`rowsPerSecond ${rowsPerSecond} must be > 0`);
    if (!Number.isInteger(rowCount) || rowCount < 1) throw new RangeError(`rowCount ${rowCount} must be >= 1`);
  }

  /** The millisecond position `position` is due at: its processing timestamp. */
  dueMs(position: number): number {
    if (!Number.isSafeInteger(position) || position < 0)
      throw new RangeError(`schedule position ${position} is not a non-negative safe integer`);
    return scheduleEpochMs + Math.floor((position * 1000) / this.rowsPerSecond);
  }

  /** The last position due at or before `nowMs`; -1 before the epoch. */
  lastDueAt(nowMs: number): number {
    if (nowMs < scheduleEpochMs) return -1;
    let position = Math.floor(((nowMs - scheduleEpochMs) * this.rowsPerSecond) / 1000);
    // The estimate is off by at most one either way (rounding); dueMs decides.
    while (position >= 0 && this.dueMs(position) > nowMs) position -= 1;
    while (this.dueMs(position + 1) <= nowMs) position += 1;
    return position;
  }

  /** The position of row `row` in the pass whose due times surround `tsMs`, when one is due exactly then. */
  positionAt(row: number, tsMs: number): number | undefined {
    if (!Number.isInteger(row) || row < 0 || row >= this.rowCount) return undefined;
    const approximate = ((tsMs - scheduleEpochMs) * this.rowsPerSecond) / 1000;
    const pass = Math.round((approximate - row) / this.rowCount);
    // The latest first: at more rows a millisecond than a pass holds, two passes can share one.
    for (const candidate of [pass + 1, pass, pass - 1]) {
      if (candidate < 0) continue;
      const position = candidate * this.rowCount + row;
      if (this.dueMs(position) === tsMs) return position;
    }
    return undefined;
  }

  rowOf(position: number): number {
    return position % this.rowCount;
  }

  passOf(position: number): number {
    return Math.floor(position / this.rowCount);
  }
}
