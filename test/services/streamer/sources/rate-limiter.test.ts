import { describe, expect, test } from "bun:test";
import { RateLimiter } from "../../../../services/streamer/sources/rate-limiter.ts";

function manualClock(startMs = 1_000) {
  let nowMs = startMs;
  return {
    clock: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

describe("RateLimiter", () => {
  test("rate 0 is unlimited", () => {
    const time = manualClock();
    const limiter = new RateLimiter({ rowsPerSecond: 0, burstRowsMax: 10, clock: time.clock });
    expect(limiter.unlimited).toBe(true);
    for (let index = 0; index < 1000; index += 1) expect(limiter.reserve(10)).toBe(0);
  });

  test("a full bucket lets one burst through, then paces at the rate", () => {
    const time = manualClock();
    const limiter = new RateLimiter({ rowsPerSecond: 1000, burstRowsMax: 500, clock: time.clock });
    expect(limiter.reserve(500)).toBe(0);
    expect(limiter.reserve(100)).toBe(100); // 100 rows of debt at 1000/s
    time.advance(100);
    expect(limiter.reserve(100)).toBe(100);
  });

  test("over a long run the average rate is the configured one", () => {
    const time = manualClock();
    const limiter = new RateLimiter({ rowsPerSecond: 2500, burstRowsMax: 250, clock: time.clock });
    let sent = 0;
    for (let batch = 0; batch < 1000; batch += 1) {
      time.advance(limiter.reserve(250));
      sent += 250;
    }
    const elapsedSeconds = (time.clock() - 1_000) / 1000;
    // The first burst is free; everything after it is paced.
    expect(sent - 250).toBeLessThanOrEqual(2500 * elapsedSeconds);
    expect(sent / elapsedSeconds).toBeGreaterThan(2500 * 0.99);
  });

  test("a pause refills at most one burst", () => {
    const time = manualClock();
    const limiter = new RateLimiter({ rowsPerSecond: 100, burstRowsMax: 50, clock: time.clock });
    expect(limiter.reserve(50)).toBe(0);
    time.advance(60_000);
    expect(limiter.reserve(50)).toBe(0);
    expect(limiter.reserve(10)).toBe(100);
  });

  test("a clock that goes backwards does not mint tokens", () => {
    const time = manualClock(10_000);
    const limiter = new RateLimiter({ rowsPerSecond: 10, burstRowsMax: 10, clock: time.clock });
    expect(limiter.reserve(10)).toBe(0);
    time.advance(-5_000);
    expect(limiter.reserve(1)).toBe(100);
    time.advance(5_000);
    expect(limiter.reserve(1)).toBe(200);
  });

  test("explicit limits: burst size, wait bound, bad settings", () => {
    const time = manualClock();
    const limiter = new RateLimiter({ rowsPerSecond: 10, burstRowsMax: 1000, clock: time.clock });
    expect(() => limiter.reserve(1001)).toThrow(/burstRowsMax 1000/);
    expect(limiter.reserve(1000)).toBe(0);
    expect(() => limiter.reserve(1000)).toThrow(/rateWaitMsMax/);
    expect(limiter.reserve(100)).toBe(10_000); // the refused reservation took nothing
    expect(() => new RateLimiter({ rowsPerSecond: -1, burstRowsMax: 1, clock: time.clock })).toThrow();
    expect(() => new RateLimiter({ rowsPerSecond: 1, burstRowsMax: 0, clock: time.clock })).toThrow();
  });

  test("acquire sleeps for the reserved wait through the injected sleep", async () => {
    const time = manualClock();
    const limiter = new RateLimiter({ rowsPerSecond: 100, burstRowsMax: 100, clock: time.clock });
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      time.advance(ms);
    };
    await limiter.acquire(100, sleep);
    await limiter.acquire(50, sleep);
    await limiter.acquire(50, sleep);
    expect(sleeps).toEqual([500, 500]);
  });
});
