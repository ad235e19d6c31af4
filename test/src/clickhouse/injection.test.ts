import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { findGpuByHostIndex, getGpu, latestValues, listGpus } from "../../../src/clickhouse/gpu-queries.ts";
import { telemetryPage } from "../../../src/clickhouse/telemetry-page.ts";
import { summary } from "../../../src/clickhouse/telemetry-summary.ts";
import { type ClickHouseFixture, countOf, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
let client: ClickHouseClient;
const base = recentMinuteMs();

const injections = [
  "' OR 1=1 --",
  "'); DROP TABLE datapoints; --",
  "GPU-x' UNION SELECT * FROM system.users --",
  "{uuid:String}",
  "\\' OR \\'1\\'=\\'1",
  '"; DROP DATABASE injection; --',
  "`datapoints`",
  "GPU-a\n; TRUNCATE TABLE gpus",
  "%27%20OR%201%3D1",
];

/** A GPU whose uuid, host and metric are themselves hostile: they must round-trip as data. */
const hostile = "x' OR '1'='1";

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("injection");
  await insertDatapoints(
    client,
    [
      point({ ts: base + 1, uuid: "GPU-a", metric: "TEMP", value: 1 }),
      point({ ts: base + 2, uuid: hostile, hostname: hostile, metric: hostile, value: 2 }),
    ],
    { dedupToken: "t/0/0-1'; DROP TABLE datapoints; --" },
  );
});
afterAll(async () => {
  await fixture?.stop();
});

async function intact(): Promise<void> {
  expect(await countOf(client, "SELECT count() AS n FROM datapoints")).toBe(2);
  expect(await countOf(client, "SELECT count() AS n FROM (SELECT uuid FROM gpus GROUP BY uuid)")).toBe(2);
}

describe("hostile parameters are data", () => {
  test("in GPU lookups and listings they match nothing", async () => {
    for (const text of injections) {
      expect(await getGpu(client, text)).toBeUndefined();
      expect(await latestValues(client, text)).toEqual([]);
      expect(await listGpus(client, { limit: 10, hostname: text })).toEqual([]);
      expect(await findGpuByHostIndex(client, { hostname: text, gpuIndex: 0 })).toBeUndefined();
      const after = await listGpus(client, { limit: 10, afterUuid: text });
      expect(after.every((gpu) => gpu.uuid > text)).toBe(true);
    }
    await intact();
  });

  test("in telemetry pages and summaries they match nothing", async () => {
    const window = { startMs: base, endMs: base + 10, order: "asc" as const, limit: 10 };
    for (const text of injections) {
      expect((await telemetryPage(client, { ...window, uuid: text })).rows).toEqual([]);
      expect((await telemetryPage(client, { ...window, uuid: "GPU-a", metrics: [text] })).rows).toEqual([]);
      const after = { tsMs: base, metric: text, sourceTsMs: 0, value: 0, skip: 1 };
      const paged = await telemetryPage(client, { ...window, uuid: "GPU-a", after });
      expect(paged.rows.every((row) => row.metric === "TEMP")).toBe(true);
      const series = { startMs: base, endMs: base + 10, stepSeconds: 60, agg: "avg" as const };
      expect((await summary(client, { ...series, uuid: text })).rows).toEqual([]);
      expect((await summary(client, { ...series, uuid: "GPU-a", metrics: [text], forceRaw: true })).rows).toEqual([]);
    }
    await intact();
  });

  test("stored hostile values come back exactly", async () => {
    expect((await getGpu(client, hostile))?.hostname).toBe(hostile);
    expect((await listGpus(client, { limit: 10, hostname: hostile })).map((gpu) => gpu.uuid)).toEqual([hostile]);
    expect(await latestValues(client, hostile)).toEqual([{ metric: hostile, ts_ms: base + 2, value: 2 }]);
    const page = await telemetryPage(client, {
      uuid: hostile,
      startMs: base,
      endMs: base + 10,
      order: "asc",
      limit: 10,
      metrics: [hostile],
    });
    expect(page.rows).toEqual([
      {
        ts_ms: base + 2,
        metric: hostile,
        value: 2,
        source_ts_ms: base + 2 - 500,
        namespace: "",
        pod: "",
        container: "",
      },
    ]);
    await intact();
  });
});
