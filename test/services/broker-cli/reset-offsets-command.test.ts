import { describe, expect, test } from "bun:test";
import { parseDateTime } from "../../../services/broker-cli/reset-offsets-command.ts";

describe("--to-datetime", () => {
  test("takes RFC 3339 with a zone or epoch milliseconds, and nothing whose clock is a guess", () => {
    expect(parseDateTime("2025-07-18T20:42:34Z")).toBe(Date.UTC(2025, 6, 18, 20, 42, 34));
    expect(parseDateTime("2025-07-18T13:42:34.250-07:00")).toBe(Date.UTC(2025, 6, 18, 20, 42, 34, 250));
    expect(parseDateTime("2025-07-18 20:42Z")).toBe(Date.UTC(2025, 6, 18, 20, 42));
    expect(parseDateTime("1752871354000")).toBe(1_752_871_354_000);
    for (const refused of ["2025-07-18T20:42:34", "2025-07-18", "yesterday", "", "2025-13-40T99:99:99Z", "-5"]) {
      expect([refused, parseDateTime(refused)]).toEqual([refused, undefined]);
    }
  });
});
