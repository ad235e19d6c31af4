import { describe, expect, test } from "bun:test";
import { backoffDelayMs, retryUntil } from "../../../src/broker-client/backoff.ts";

describe("backoff", () => {
  const options = { backoffMsMin: 10, backoffMsMax: 1_000 };

  test("grows exponentially, is capped, and never goes below a server's retry-after", () => {
    expect(backoffDelayMs(options, 1, 0, () => 1)).toBe(10);
    expect(backoffDelayMs(options, 4, 0, () => 1)).toBe(80);
    expect(backoffDelayMs(options, 40, 0, () => 1)).toBe(1_000);
    expect(backoffDelayMs(options, 40, 0, () => 0)).toBe(10);
    expect(backoffDelayMs(options, 1, 5_000, () => 0.5)).toBe(5_000);
  });

  test("retryUntil retries what is retryable, up to its deadline", async () => {
    let calls = 0;
    const value = await retryUntil(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("not yet");
        return "ok";
      },
      { timeoutMs: 1_000, backoff: { backoffMsMin: 1, backoffMsMax: 2 }, isRetryable: () => true },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
    const fatal = retryUntil(() => Promise.reject(new Error("fatal")), {
      timeoutMs: 1_000,
      backoff: options,
      isRetryable: () => false,
    });
    await expect(fatal).rejects.toThrow("fatal");
  });
});
