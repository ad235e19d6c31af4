import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import {
  type TelemetryCursor,
  type TelemetryPageOptions,
  type TelemetryPointRow,
  telemetryPage,
} from "../../../src/clickhouse/telemetry-page.ts";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { type ClickHouseFixture, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
let client: ClickHouseClient;
const base = recentMinuteMs();
const uuid = "GPU-page";
const metrics = ["M_A", "M_B", "M_C", "M_D"];

/**
 * 10,000 points of one GPU crowded into 250 milliseconds: 40 a millisecond, 10 per
 * metric, with repeated (source_ts, value) pairs, so many rows tie on the time and
 * some are exact duplicates of each other. Plus another GPU's points in the same window.
 */
const crowded: TelemetryPoint[] = Array.from({ length: 10_000 }, (_, index) =>
  point({
    ts: base + Math.floor(index / 40),
    uuid,
    metric: metrics[index % 4] as string,
    source_ts: base - (Math.floor(index / 4) % 2),
    value: Math.floor(index / 16) % 2,
  }),
);
const neighbour = Array.from({ length: 500 }, (_, index) => point({ ts: base + index, uuid: "GPU-other", value: 1 }));

const key = (row: TelemetryPointRow) => [row.ts_ms, row.metric, row.source_ts_ms, row.value] as const;

function compareRows(a: TelemetryPointRow, b: TelemetryPointRow): number {
  const [ka, kb] = [key(a), key(b)];
  for (let index = 0; index < ka.length; index += 1) {
    const [x, y] = [ka[index] as number | string, kb[index] as number | string];
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

function expected(
  startMs: number,
  endMs: number,
  order: "asc" | "desc",
  only?: readonly string[],
): TelemetryPointRow[] {
  const rows = crowded
    .filter((p) => p.ts >= startMs && p.ts <= endMs && (only === undefined || only.includes(p.metric)))
    .map((p) => ({
      ts_ms: p.ts,
      metric: p.metric,
      value: p.value,
      source_ts_ms: p.source_ts,
      namespace: p.namespace,
      pod: p.pod,
      container: p.container,
    }))
    .sort(compareRows);
  return order === "asc" ? rows : rows.reverse();
}

async function walk(
  options: Omit<TelemetryPageOptions, "after">,
): Promise<{ rows: TelemetryPointRow[]; pages: number }> {
  const rows: TelemetryPointRow[] = [];
  let after: TelemetryCursor | undefined;
  const pagesMax = 1_000;
  for (let pages = 1; pages <= pagesMax; pages += 1) {
    const page = await telemetryPage(client, { ...options, after });
    expect(page.rows.length).toBeLessThanOrEqual(options.limit);
    rows.push(...page.rows);
    if (page.next === undefined) return { rows, pages };
    after = page.next;
  }
  throw new Error(`walk did not end within ${pagesMax} pages`);
}

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("telemetry_page");
  await insertDatapoints(client, crowded, { dedupToken: "t/0/0-9999" });
  await insertDatapoints(client, neighbour, { dedupToken: "t/1/0-499" });
});
afterAll(async () => {
  await fixture?.stop();
});

describe("telemetryPage", () => {
  test("the fixture really has ties and exact duplicates", () => {
    const keys = new Set(crowded.map((p) => `${p.ts}|${p.metric}|${p.source_ts}|${p.value}`));
    expect(keys.size).toBeLessThanOrEqual(crowded.length / 2);
  });

  test("walks 10,000 points in pages of 333 ascending with no loss or repeat", async () => {
    const { rows, pages } = await walk({ uuid, startMs: base, endMs: base + 249, order: "asc", limit: 333 });
    expect(pages).toBe(Math.ceil(10_000 / 333));
    expect(rows).toEqual(expected(base, base + 249, "asc"));
  });

  test("walks the same window descending", async () => {
    const { rows } = await walk({ uuid, startMs: base, endMs: base + 249, order: "desc", limit: 333 });
    expect(rows).toEqual(expected(base, base + 249, "desc"));
  });

  test("pages smaller than a run of duplicates still make progress", async () => {
    const { rows } = await walk({ uuid, startMs: base + 10, endMs: base + 10, order: "asc", limit: 1 });
    expect(rows).toEqual(expected(base + 10, base + 10, "asc"));
    const down = await walk({ uuid, startMs: base + 10, endMs: base + 11, order: "desc", limit: 2 });
    expect(down.rows).toEqual(expected(base + 10, base + 11, "desc"));
  });

  test("both bounds are inclusive at the exact millisecond", async () => {
    const { rows } = await walk({ uuid, startMs: base + 100, endMs: base + 101, order: "asc", limit: 1_000 });
    expect(rows.length).toBe(80);
    expect(rows[0]?.ts_ms).toBe(base + 100);
    expect(rows.at(-1)?.ts_ms).toBe(base + 101);
    const single = await telemetryPage(client, { uuid, startMs: base + 7, endMs: base + 7, order: "asc", limit: 100 });
    expect(single.rows.length).toBe(40);
    expect(single.next).toBeUndefined();
    const before = await telemetryPage(client, { uuid, startMs: base - 10, endMs: base - 1, order: "asc", limit: 100 });
    expect(before.rows).toEqual([]);
  });

  test("a metric filter keeps only those metrics, across pages", async () => {
    const only = ["M_B", "M_D"];
    const { rows } = await walk({ uuid, startMs: base, endMs: base + 249, metrics: only, order: "asc", limit: 333 });
    expect(rows).toEqual(expected(base, base + 249, "asc", only));
  });

  test("a page that ends exactly at the last row has no next cursor", async () => {
    const page = await telemetryPage(client, { uuid, startMs: base + 3, endMs: base + 3, order: "asc", limit: 40 });
    expect(page.rows.length).toBe(40);
    expect(page.next).toBeUndefined();
  });

  test("refuses an inverted window, a limit out of range and a non-finite cursor value", async () => {
    const options = { uuid, startMs: base, endMs: base + 1, order: "asc" as const, limit: 10 };
    await expect(telemetryPage(client, { ...options, endMs: base - 1 })).rejects.toThrow(/before start/);
    await expect(telemetryPage(client, { ...options, limit: 0 })).rejects.toThrow(RangeError);
    await expect(telemetryPage(client, { ...options, limit: 10_001 })).rejects.toThrow(RangeError);
    const after = { tsMs: base, metric: "M_A", sourceTsMs: base, value: Number.NaN, skip: 1 };
    await expect(telemetryPage(client, { ...options, after })).rejects.toThrow(/finite/);
  });
});
