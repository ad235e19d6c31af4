import { describe, expect, test } from "bun:test";
import { epochMsMax, formatRfc3339, parseRfc3339 } from "../../../services/api/time-parsing.ts";

const ms = (text: string, rounding: "up" | "down" = "down") => {
  const parsed = parseRfc3339(text, rounding);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.epochMs;
};
const problem = (text: string) => {
  const parsed = parseRfc3339(text, "down");
  return parsed.ok ? undefined : parsed.problem;
};

describe("parseRfc3339", () => {
  test("accepts Z and any offset, with or without a fraction", () => {
    const expected = Date.UTC(2025, 6, 18, 20, 42, 34);
    expect(ms("2025-07-18T20:42:34Z")).toBe(expected);
    expect(ms("2025-07-18T22:42:34+02:00")).toBe(expected);
    expect(ms("2025-07-18T15:12:34-05:30")).toBe(expected);
    expect(ms("2025-07-18t20:42:34z")).toBe(expected);
    expect(ms("2025-07-18 20:42:34Z")).toBe(expected);
    expect(ms("2025-07-18T22:42:34.5+02:00")).toBe(expected + 500);
    expect(ms("2025-07-18T20:42:34.123Z")).toBe(expected + 123);
  });

  test("rounds digits finer than a millisecond inward: start up, end down", () => {
    const base = Date.UTC(2025, 6, 18, 20, 42, 34);
    expect(ms("2025-07-18T20:42:34.123456789Z", "down")).toBe(base + 123);
    expect(ms("2025-07-18T20:42:34.123456789Z", "up")).toBe(base + 124);
    expect(ms("2025-07-18T20:42:34.123000Z", "up")).toBe(base + 123);
    expect(ms("2025-07-18T20:42:34.9999Z", "up")).toBe(base + 1_000);
  });

  test("rejects malformed text and impossible dates with a reason", () => {
    expect(problem("2025-07-18")).toContain("not an RFC 3339 timestamp");
    expect(problem("2025-07-18T20:42:34")).toContain("not an RFC 3339");
    expect(problem("1752871354")).toContain("not an RFC 3339");
    expect(problem("2025-07-18T20:42:34.Z")).toContain("not an RFC 3339");
    expect(problem("2025-07-18T20:42:34.1234567890Z")).toContain("not an RFC 3339");
    expect(problem("2025-13-01T00:00:00Z")).toContain("month 13");
    expect(problem("2025-02-29T00:00:00Z")).toContain("day 29");
    expect(problem("2024-02-29T00:00:00Z")).toBeUndefined();
    expect(problem("2025-07-18T20:60:00Z")).toContain("minute 60");
    expect(problem("2025-07-18T20:00:60Z")).toContain("second 60");
    expect(problem("2025-07-18T20:00:00+24:00")).toContain("offset");
    expect(problem("1969-12-31T23:59:59Z")).toContain("outside the supported range");
    expect(problem("2025-07-18T20:42:34Z' OR 1=1")).toContain("not an RFC 3339");
  });

  test("formats UTC with milliseconds, and round-trips", () => {
    const epochMs = Date.UTC(2025, 6, 18, 20, 42, 34, 5);
    expect(formatRfc3339(epochMs)).toBe("2025-07-18T20:42:34.005Z");
    expect(ms(formatRfc3339(epochMs))).toBe(epochMs);
  });
});

describe("years are taken literally", () => {
  test("0099 and 0070 are before 1970 and refused (Date.UTC would read 1999 and 1970)", () => {
    for (const text of [
      "0099-06-01T00:00:00Z",
      "0070-01-01T00:00:00Z",
      "0000-02-29T00:00:00Z",
      "0001-01-01T00:00:00Z",
    ]) {
      expect(parseRfc3339(text, "down")).toMatchObject({ ok: false });
    }
  });

  test("1970 and 2299 bounds hold; 2300 is refused; leap days follow the literal year", () => {
    expect(parseRfc3339("1970-01-01T00:00:00Z", "down")).toEqual({ ok: true, epochMs: 0 });
    expect(parseRfc3339("2299-12-31T23:59:59.999Z", "down")).toEqual({ ok: true, epochMs: epochMsMax });
    expect(parseRfc3339("2300-01-01T00:00:00Z", "down")).toMatchObject({ ok: false });
    expect(parseRfc3339("2000-02-29T00:00:00Z", "down")).toMatchObject({ ok: true });
    expect(parseRfc3339("2100-02-29T00:00:00Z", "down")).toMatchObject({ ok: false });
  });
});
