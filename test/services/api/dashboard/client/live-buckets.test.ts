import { describe, expect, test } from "bun:test";
import { LiveBuckets, stepForWindow } from "../../../../../services/api/dashboard/client/live-buckets.ts";

const point = (timestamp: string, value: number) => ({
  gpu: "GPU-1",
  timestamp,
  metric: "UTIL",
  value,
  unit: "%",
  source_timestamp: timestamp,
  namespace: "",
  pod: "",
  container: "",
});

describe("LiveBuckets", () => {
  const summary = {
    end_time: "2026-01-01T00:00:25.000Z",
    points: [
      { timestamp: "2026-01-01T00:00:10.000Z", value: 10, samples: 2 },
      { timestamp: "2026-01-01T00:00:20.000Z", value: 30, samples: 3 },
    ],
  };

  test("starts from the summary's buckets and averages live points into theirs", () => {
    const buckets = new LiveBuckets("UTIL", "%", 10_000, 300_000, summary);
    expect(buckets.add(point("2026-01-01T00:00:27.000Z", 70))).toBe(true);
    expect(buckets.add(point("2026-01-01T00:00:31.000Z", 5))).toBe(true);
    const [times, values] = buckets.series(Date.parse("2026-01-01T00:00:35.000Z"));
    expect(times).toEqual([1_767_225_610, 1_767_225_620, 1_767_225_630]);
    expect(values).toEqual([10, (30 * 3 + 70) / 4, 5]);
    expect(buckets.lastTimestampMs).toBe(Date.parse("2026-01-01T00:00:31.000Z"));
  });

  test("ignores points the summary already counted, and drops buckets that left the window", () => {
    const buckets = new LiveBuckets("UTIL", "%", 10_000, 20_000, summary);
    expect(buckets.add(point("2026-01-01T00:00:25.000Z", 99))).toBe(false);
    const [times] = buckets.series(Date.parse("2026-01-01T00:00:45.000Z"));
    expect(times).toEqual([1_767_225_630 - 10]);
    expect(buckets.pointCount).toBe(1);
  });

  test("picks a summary step that gives tens to hundreds of buckets", () => {
    expect(stepForWindow(5 * 60_000).step).toBe("10s");
    expect(stepForWindow(3_600_000).step).toBe("1m");
    expect(stepForWindow(86_400_000).step).toBe("5m");
    expect(stepForWindow(7 * 86_400_000).step).toBe("1h");
  });
});
