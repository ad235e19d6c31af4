import { describe, expect, test } from "bun:test";
import { backoffDelayMs } from "../../../src/runtime/backoff.ts";

describe("backoff", () => {
  const options = { backoffMsMin: 10, backoffMsMax: 1_000 };

  test("grows exponentially, is capped, and never goes below a server's retry-after", () => {
    expect(backoffDelayMs(options, 1, 0, () => 1)).toBe(10);
    expect(backoffDelayMs(options, 4, 0, () => 1)).toBe(80);
    expect(backoffDelayMs(options, 40, 0, () => 1)).toBe(1_000);
    expect(backoffDelayMs(options, 40, 0, () => 0)).toBe(10);
    expect(backoffDelayMs(options, 1, 5_000, () => 0.5)).toBe(5_000);
  });
});
