import { describe, expect, test } from "bun:test";
import {
  parseDecimal,
  parseGpuIndex,
  parseTimestampMs,
  rowRejectionReasons,
} from "../../../src/telemetry/source-point.ts";

describe("parseTimestampMs", () => {
  test.each([
    ["2025-07-18T20:42:34Z", Date.UTC(2025, 6, 18, 20, 42, 34)],
    ["2025-07-18T20:42:34.123456789Z", Date.UTC(2025, 6, 18, 20, 42, 34, 123)],
    ["2025-07-18T20:42:34.035Z", Date.UTC(2025, 6, 18, 20, 42, 34, 35)],
    ["2025-07-18 20:42:34.1z", Date.UTC(2025, 6, 18, 20, 42, 34, 100)],
    ["2025-07-18T20:42:34-07:30", Date.UTC(2025, 6, 19, 4, 12, 34)],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ])("%s", (text, expected) => {
    expect(parseTimestampMs(text)).toBe(expected);
  });

  test.each([
    "2025-07-18T20:42:34",
    "2025-02-29T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "2025-07-18T24:00:00Z",
    "2025-07-18T20:60:00Z",
    "1969-12-31T23:59:59Z",
    "0050-01-01T00:00:00Z",
    "1752871354000",
    "",
  ])("refuses %s", (text) => {
    expect(parseTimestampMs(text)).toBeUndefined();
  });
});

describe("parseDecimal and parseGpuIndex", () => {
  test("decimal numbers only", () => {
    expect(parseDecimal("42")).toBe(42);
    expect(parseDecimal("-0.5e3")).toBe(-500);
    expect(parseDecimal(".5")).toBe(0.5);
    expect(parseDecimal("7.")).toBe(7);
    for (const text of ["", " 1", "1 ", "0x10", "Infinity", "NaN", "1e999", "1,5", "--1"]) {
      expect(parseDecimal(text)).toBeUndefined();
    }
  });

  test("gpu indexes are small non-negative integers", () => {
    expect(parseGpuIndex("0")).toBe(0);
    expect(parseGpuIndex("1023")).toBe(1023);
    for (const text of ["1024", "-1", "1.0", "", "a"]) expect(parseGpuIndex(text)).toBeUndefined();
  });

  test("the rejection reasons are the closed list sources report", () => {
    expect(rowRejectionReasons).toContain("wrong_column_count");
    expect(new Set(rowRejectionReasons).size).toBe(rowRejectionReasons.length);
  });
});
