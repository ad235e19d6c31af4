import { expect, test } from "bun:test";
import { ManualClock, monotonicMs } from "../../../src/runtime/clock.ts";

test("the monotonic clock never goes back", () => {
  let previous = monotonicMs();
  for (let index = 0; index < 1_000; index++) {
    const now = monotonicMs();
    expect(now).toBeGreaterThanOrEqual(previous);
    previous = now;
  }
});

test("a manual clock moves only forward and only when told", () => {
  const clock = new ManualClock(1_000);
  expect(clock.now()).toBe(1_000);
  clock.advance(250);
  expect(clock.now()).toBe(1_250);
  expect(() => clock.advance(-1)).toThrow("forward only");
  expect(() => clock.advance(Number.NaN)).toThrow("forward only");
  expect(clock.now()).toBe(1_250);
});
