import { expect, test } from "bun:test";
import { ManualClock, monotonicMs, realTimer } from "../../../src/runtime/clock.ts";

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

test("a manual clock's timers fire as it passes their due time, in order, at that time", () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.timer(30, () => fired.push(`b@${clock.now()}`));
  clock.timer(10, () => fired.push(`a@${clock.now()}`));
  clock.timer(30, () => fired.push(`c@${clock.now()}`));
  const cancel = clock.timer(20, () => fired.push("cancelled"));
  cancel();
  clock.advance(9);
  expect(fired).toEqual([]);
  clock.advance(25);
  expect(fired).toEqual(["a@10", "b@30", "c@30"]);
  expect(clock.now()).toBe(34);
  expect(clock.pendingTimerCount).toBe(0);
});

test("a timer armed by a firing one fires in the same advance when it falls due", () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  clock.timer(5, () => {
    fired.push(clock.now());
    clock.timer(5, () => fired.push(clock.now()));
    clock.timer(50, () => fired.push(clock.now()));
  });
  clock.advance(20);
  expect(fired).toEqual([5, 10]);
  expect(clock.pendingTimerCount).toBe(1);
});

test("a manual timer that re-arms itself at 0 ms forever is stopped with an error", () => {
  const clock = new ManualClock(0);
  const rearm = () => {
    clock.timer(0, rearm);
  };
  clock.timer(0, rearm);
  expect(() => clock.advance(1)).toThrow("re-arms forever");
});

test("the real timer fires once and can be cancelled", async () => {
  let fired = 0;
  realTimer(1, () => fired++);
  realTimer(1, () => fired++)();
  await Bun.sleep(20);
  expect(fired).toBe(1);
});
