import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../../src/runtime/clock.ts";
import { RetryAbortedError, type RetryFailure, retry, unlessAborted } from "../../../src/runtime/retry.ts";

/** Time passes only when the retry sleeps: the tests run in no time and see every wait. */
function manualTime() {
  const clock = new ManualClock();
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.advance(ms);
  };
  return { clock: clock.now, sleep, sleeps, random: () => 1 };
}

function failing(times: number, error: () => unknown = () => new Error("not yet")) {
  let calls = 0;
  const attempt = async () => {
    calls += 1;
    if (calls <= times) throw error();
    return "ok";
  };
  return { attempt, calls: () => calls };
}

const backoff = { backoffMsMin: 100, backoffMsMax: 1_000 };

describe("retry", () => {
  test("retries with capped exponential backoff until an attempt succeeds, telling onRetry each time", async () => {
    const time = manualTime();
    const { attempt, calls } = failing(5);
    const failures: RetryFailure[] = [];
    const value = await retry(attempt, { attemptsMax: 10, backoff, ...time, onRetry: (f) => failures.push(f) });
    expect(value).toBe("ok");
    expect(calls()).toBe(6);
    expect(time.sleeps).toEqual([100, 200, 400, 800, 1_000]);
    expect(failures.map((failure) => [failure.attempt, failure.delayMs])).toEqual([
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [5, 1_000],
    ]);
  });

  test("attemptsMax bounds the attempts; the last error is thrown as it was", async () => {
    const time = manualTime();
    const { attempt, calls } = failing(100, () => new Error("broker down"));
    await expect(retry(attempt, { attemptsMax: 3, backoff, ...time })).rejects.toThrow("broker down");
    expect(calls()).toBe(3);
    expect(time.sleeps).toEqual([100, 200]);
  });

  test("deadlineMs bounds the time: no wait that would end past it is started", async () => {
    const time = manualTime();
    const { attempt, calls } = failing(100);
    await expect(retry(attempt, { deadlineMs: 1_000, backoff, ...time })).rejects.toThrow("not yet");
    // 100 + 200 + 400 = 700 ms waited; the next wait (800) would end at 1,500.
    expect(time.sleeps).toEqual([100, 200, 400]);
    expect(calls()).toBe(4);
  });

  test("an error isRetryable refuses is thrown at once; retryAfterMs raises the next wait", async () => {
    const time = manualTime();
    const fatal = failing(1, () => new Error("bad request"));
    const options = { attemptsMax: 5, backoff, ...time, isRetryable: () => false };
    await expect(retry(fatal.attempt, options)).rejects.toThrow("bad request");
    expect(fatal.calls()).toBe(1);
    const slowDown = failing(1);
    await retry(slowDown.attempt, { attemptsMax: 5, backoff, ...time, retryAfterMs: () => 3_000 });
    expect(time.sleeps).toEqual([3_000]);
  });

  test("an abort ends the wait at once and rejects with RetryAbortedError carrying the last failure", async () => {
    const stop = new AbortController();
    const pending = retry(failing(100, () => new Error("refused")).attempt, {
      attemptsMax: 100,
      backoff: { backoffMsMin: 60_000, backoffMsMax: 60_000 },
      signal: stop.signal,
    });
    await Bun.sleep(5);
    stop.abort();
    const error = await pending.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetryAbortedError);
    expect(((error as Error).cause as Error).message).toBe("refused");
    expect(await unlessAborted(Promise.reject(error))).toBeUndefined();
    await expect(unlessAborted(Promise.reject(new Error("other")))).rejects.toThrow("other");
  });

  test("a retry without a limit, or with a nonsense one, is refused before any attempt", async () => {
    const { attempt, calls } = failing(0);
    const unbounded = { backoff } as unknown as Parameters<typeof retry>[1];
    await expect(retry(attempt, unbounded)).rejects.toThrow("attemptsMax or deadlineMs");
    await expect(retry(attempt, { attemptsMax: 0, backoff })).rejects.toThrow("attemptsMax must be");
    await expect(retry(attempt, { attemptsMax: 1, backoff: { backoffMsMin: 5, backoffMsMax: 1 } })).rejects.toThrow(
      "backoffMsMin",
    );
    expect(calls()).toBe(0);
  });
});
