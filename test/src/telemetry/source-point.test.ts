import { describe, expect, test } from "bun:test";
import { gpuIndexMax, textLengthMax } from "../../../src/domain/telemetry.ts";
import {
  buildSourcePoint,
  parseDecimal,
  parseGpuIndex,
  parseTimestampMs,
  type RowRejectionReason,
  rowRejectionReasons,
  type SourceFields,
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
    expect(parseGpuIndex(String(gpuIndexMax))).toBe(gpuIndexMax);
    for (const text of [String(gpuIndexMax + 1), "-1", "1.0", "+1", " 1", "", "a", "٣"])
      expect(parseGpuIndex(text)).toBeUndefined();
  });

  test("the rejection reasons are the closed list sources report", () => {
    expect(rowRejectionReasons).toContain("wrong_column_count");
    expect(new Set(rowRejectionReasons).size).toBe(rowRejectionReasons.length);
  });
});

describe("buildSourcePoint", () => {
  const fields: SourceFields = {
    source_ts: 1_752_871_354_000,
    uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
    hostname: "host-1",
    gpu_index: "7",
    device: "nvidia7",
    model: "NVIDIA H100 80GB HBM3",
    metric: "DCGM_FI_DEV_GPU_UTIL",
    value: 42,
    container: "",
    pod: "",
    namespace: "",
    labels: { job: "dcgm" },
  };

  test("builds the point, the integer field parsed from its text", () => {
    expect(buildSourcePoint(fields)).toEqual({ ok: true, point: { ...fields, gpu_index: 7 } });
  });

  test.each<[string, Partial<SourceFields>, RowRejectionReason, string]>([
    ["an empty uuid", { uuid: "" }, "missing_uuid", "empty uuid"],
    ["an empty metric", { metric: "" }, "missing_metric", "empty metric"],
    ["a non-finite value", { value: Number.NaN }, "non_numeric_value", "NaN"],
    ["a negative source_ts", { source_ts: -1 }, "bad_timestamp", "-1"],
    ["a fractional source_ts", { source_ts: 1.5 }, "bad_timestamp", "1.5"],
    ["a gpu index above the maximum", { gpu_index: String(gpuIndexMax + 1) }, "bad_gpu_index", `${gpuIndexMax + 1}`],
    ["a gpu index that is not digits", { gpu_index: "x" }, "bad_gpu_index", "x"],
    ["a long model", { model: "m".repeat(textLengthMax + 1) }, "field_too_long", `model has 257 characters, max 256`],
  ])("%s is refused as its reason", (_name, change, reason, detail) => {
    expect(buildSourcePoint({ ...fields, ...change })).toEqual({ ok: false, reason, detail });
  });

  test("the first problem reported is the most telling: a missing identity before a bad value, then the rest", () => {
    const everything = { ...fields, uuid: "", value: Number.NaN, source_ts: -1, gpu_index: "x", pod: "p".repeat(300) };
    expect(buildSourcePoint(everything)).toMatchObject({ reason: "missing_uuid" });
    expect(buildSourcePoint({ ...everything, uuid: "u" })).toMatchObject({ reason: "non_numeric_value" });
    expect(buildSourcePoint({ ...everything, uuid: "u", value: 1 })).toMatchObject({ reason: "bad_timestamp" });
    const indexLeft = { ...everything, uuid: "u", value: 1, source_ts: 0 };
    expect(buildSourcePoint(indexLeft)).toMatchObject({ reason: "bad_gpu_index" });
    expect(buildSourcePoint({ ...indexLeft, gpu_index: "0" })).toMatchObject({ reason: "field_too_long" });
  });
});
