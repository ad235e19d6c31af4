import { describe, expect, test } from "bun:test";
import {
  cellColor,
  gridMetrics,
  missingColor,
  rampColor,
} from "../../../../../services/api/dashboard/client/colors.ts";
import { formatAge, formatRate, formatValue } from "../../../../../services/api/dashboard/client/format.ts";

describe("cell colours", () => {
  const utilization = gridMetrics[0]!;
  const framebuffer = gridMetrics.find((metric) => metric.metric === "DCGM_FI_DEV_FB_USED")!;

  test("map a metric's range onto the ramp, clamped at both ends", () => {
    expect(cellColor(0, utilization, 0)).toBe(rampColor(0));
    expect(cellColor(100, utilization, 0)).toBe(rampColor(1));
    expect(cellColor(150, utilization, 0)).toBe(rampColor(1));
    expect(cellColor(-5, utilization, 0)).toBe(rampColor(0));
    expect(cellColor(50, utilization, 0)).not.toBe(rampColor(0));
  });

  test("a metric without a fixed maximum uses the largest value in view; no value has its own colour", () => {
    expect(cellColor(40_000, framebuffer, 80_000)).toBe(rampColor(0.5));
    expect(cellColor(null, utilization, 0)).toBe(missingColor);
    expect(rampColor(Number.NaN)).toBe(rampColor(0));
  });
});

describe("formatting", () => {
  test("values, rates and ages read as a person expects", () => {
    expect(formatValue(null, "%")).toBe("—");
    expect(formatValue(3.25159, "W")).toBe("3.25 W");
    expect(formatValue(81_000, "MiB")).toBe("81000 MiB");
    expect(formatRate(12_345)).toBe("12.3k/s");
    expect(formatRate(2_500_000)).toBe("2.50M/s");
    expect(formatAge("2026-01-01T00:00:00Z", Date.parse("2026-01-01T00:05:00Z"))).toBe("5 min ago");
  });
});
