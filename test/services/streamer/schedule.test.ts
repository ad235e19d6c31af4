import { describe, expect, test } from "bun:test";
import { LoopSchedule, scheduleEpochMs } from "../../../services/streamer/schedule.ts";

describe("LoopSchedule", () => {
  test("positions are due at the epoch plus position / rate, floored to the millisecond", () => {
    const schedule = new LoopSchedule(3, 10);
    expect(schedule.dueMs(0)).toBe(scheduleEpochMs);
    expect(schedule.dueMs(1)).toBe(scheduleEpochMs + 333);
    expect(schedule.dueMs(2)).toBe(scheduleEpochMs + 666);
    expect(schedule.dueMs(3)).toBe(scheduleEpochMs + 1_000);
    expect(schedule.rowOf(23)).toBe(3);
    expect(schedule.passOf(23)).toBe(2);
  });

  test("lastDueAt is the last position due at or before a time, for any rate (also several per ms)", () => {
    for (const rate of [1, 7, 1_000, 5_000, 123_457, 10_000_000]) {
      const schedule = new LoopSchedule(rate, 2_470);
      const nowMs = Date.UTC(2026, 11, 6, 3, 4, 5, 678);
      for (const atMs of [nowMs, nowMs + 1, nowMs + 999, scheduleEpochMs]) {
        const position = schedule.lastDueAt(atMs);
        expect(schedule.dueMs(position)).toBeLessThanOrEqual(atMs);
        expect(schedule.dueMs(position + 1)).toBeGreaterThan(atMs);
      }
    }
    expect(new LoopSchedule(10, 5).lastDueAt(scheduleEpochMs - 1)).toBe(-1);
  });

  test("a row's position is found again from its due time: that is how a new owner knows where to resume", () => {
    const schedule = new LoopSchedule(5_000, 2_470);
    const base = schedule.lastDueAt(Date.UTC(2026, 11, 6));
    for (const position of [base, base + 1, base + 2_469, base + 2_470, base + 12_345]) {
      const row = schedule.rowOf(position);
      expect(schedule.positionAt(row, schedule.dueMs(position))).toBe(position);
    }
    // Another row, or a time no pass of this row is due at, is not a position of the schedule.
    const position = base + 17;
    expect(schedule.positionAt(schedule.rowOf(position), schedule.dueMs(position) + 3)).toBeUndefined();
    expect(schedule.positionAt(2_470, schedule.dueMs(position))).toBeUndefined();
  });

  test("refuses a rate of 0 (no schedule then) and an empty file", () => {
    expect(() => new LoopSchedule(0, 10)).toThrow("rowsPerSecond");
    expect(() => new LoopSchedule(10, 0)).toThrow("rowCount");
  });
});
