import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import {
  planSummary,
  type SummaryAggregation,
  type SummaryRow,
  summary,
  summaryAggregations,
} from "../../../src/clickhouse/telemetry-summary.ts";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { type ClickHouseFixture, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
let client: ClickHouseClient;
const base = recentMinuteMs();
const uuid = "GPU-summary";

/**
 * Two metrics over twenty minutes, a point every 700 ms, values on a 0.25 grid so sums
 * are exact in float64 whatever order they are added in; plus two points sharing the
 * last millisecond of a minute (the tie `last` must break the same way on both paths).
 */
const points: TelemetryPoint[] = [
  ...Array.from({ length: 1_700 }, (_, index) =>
    point({
      ts: base + index * 700 + (index % 2),
      uuid,
      metric: index % 2 === 0 ? "TEMP" : "POWER",
      value: ((index * 37) % 400) / 4,
    }),
  ),
  point({ ts: base + 59_999, uuid, metric: "TEMP", value: 1 }),
  point({ ts: base + 59_999, uuid, metric: "TEMP", value: 2 }),
];

/** The definition, in JavaScript: whole epoch-aligned buckets touching [start, end]. */
function expectedSummary(startMs: number, endMs: number, stepSeconds: number, agg: SummaryAggregation): SummaryRow[] {
  const stepMs = stepSeconds * 1000;
  const first = Math.floor(startMs / stepMs) * stepMs;
  const endExclusive = (Math.floor(endMs / stepMs) + 1) * stepMs;
  const groups = new Map<string, TelemetryPoint[]>();
  for (const p of points) {
    if (p.ts < first || p.ts >= endExclusive) continue;
    const bucket = Math.floor(p.ts / stepMs) * stepMs;
    const groupKey = `${p.metric}|${bucket}`;
    groups.set(groupKey, [...(groups.get(groupKey) ?? []), p]);
  }
  const rows = [...groups.entries()].map(([groupKey, members]) => {
    const [metric, bucket] = groupKey.split("|") as [string, string];
    const values = members.map((p) => p.value);
    const latest = [...members].sort((a, b) => b.ts - a.ts || b.value - a.value)[0] as TelemetryPoint;
    const value = {
      avg: values.reduce((sum, v) => sum + v, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      last: latest.value,
    }[agg];
    return { metric, bucket_ms: Number(bucket), value, samples: members.length };
  });
  return rows.sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : a.bucket_ms - b.bucket_ms));
}

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("telemetry_summary");
  await insertDatapoints(client, points.slice(0, 900), { dedupToken: "t/0/0-899" });
  await insertDatapoints(client, points.slice(900), { dedupToken: "t/0/900-1701" });
});
afterAll(async () => {
  await fixture?.stop();
});

describe("summary", () => {
  test("from the rollup equals the definition and the raw rows, for every aggregation and minute step", async () => {
    const window = { uuid, startMs: base + 12_345, endMs: base + 540_001 };
    for (const stepSeconds of [60, 120, 300]) {
      for (const agg of summaryAggregations) {
        const fromRollup = await summary(client, { ...window, stepSeconds, agg });
        const fromRaw = await summary(client, { ...window, stepSeconds, agg, forceRaw: true });
        expect(fromRollup.source).toBe("rollup");
        expect(fromRaw.source).toBe("raw");
        expect(fromRollup.rows).toEqual(fromRaw.rows);
        expect(fromRollup.rows).toEqual(expectedSummary(window.startMs, window.endMs, stepSeconds, agg));
      }
    }
  });

  test("steps that are not whole minutes read raw rows", async () => {
    const window = { uuid, startMs: base + 1_000, endMs: base + 95_000 };
    for (const agg of summaryAggregations) {
      const result = await summary(client, { ...window, stepSeconds: 10, agg });
      expect(result.source).toBe("raw");
      expect(result.rows).toEqual(expectedSummary(window.startMs, window.endMs, 10, agg));
    }
  });

  test("the rollup still agrees after its parts are merged", async () => {
    await client.command({ query: "OPTIMIZE TABLE datapoints_1m FINAL" });
    const options = { uuid, startMs: base, endMs: base + 600_000, stepSeconds: 60, agg: "avg" as const };
    expect((await summary(client, options)).rows).toEqual(expectedSummary(base, base + 600_000, 60, "avg"));
  });

  test("a metric filter and an unknown GPU", async () => {
    const options = { uuid, startMs: base, endMs: base + 600_000, stepSeconds: 60, agg: "max" as const };
    const onlyTemp = await summary(client, { ...options, metrics: ["TEMP"] });
    expect(onlyTemp.rows.every((row) => row.metric === "TEMP")).toBe(true);
    expect(onlyTemp.rows.length).toBe(11);
    expect((await summary(client, { ...options, uuid: "GPU-none" })).rows).toEqual([]);
  });

  test("plans whole epoch-aligned buckets and refuses too many", () => {
    expect(planSummary({ startMs: 61_000, endMs: 179_999, stepSeconds: 60 })).toEqual({
      firstBucketMs: 60_000,
      endExclusiveMs: 180_000,
      bucketCount: 2,
      source: "rollup",
    });
    expect(() => planSummary({ startMs: 0, endMs: 10_000 * 1000, stepSeconds: 1 })).toThrow(/summaryBucketsMax/);
    expect(() => planSummary({ startMs: 0, endMs: 1000, stepSeconds: 0 })).toThrow(RangeError);
    expect(() => planSummary({ startMs: 1000, endMs: 0, stepSeconds: 60 })).toThrow(RangeError);
  });
});
