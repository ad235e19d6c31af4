import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { migrate } from "../../../src/clickhouse/migrations.ts";
import { migrations } from "../../../src/clickhouse/schema/all-migrations.ts";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { type ClickHouseFixture, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
beforeAll(async () => {
  fixture = await startClickHouseFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

/** Three minutes of 4 GPUs x 3 metrics, a GPU that moves host, drivers that change and go missing. */
function dataset(baseMs: number): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  for (let step = 0; step < 180; step += 1) {
    for (let gpu = 0; gpu < 4; gpu += 1) {
      for (const metric of ["UTIL", "TEMP", "POWER"]) {
        const moved = gpu === 1 && step >= 100;
        const driver: Record<string, string> =
          gpu === 2 ? {} : { DCGM_FI_DRIVER_VERSION: step < 90 ? "535.129.03" : "550.54.15" };
        points.push(
          point({
            ts: baseMs + step * 1_000 + gpu,
            uuid: `GPU-${gpu}`,
            hostname: moved ? "host-new" : `host-${gpu}`,
            gpu_index: moved ? 7 : gpu,
            metric,
            value: ((step * 37 + gpu * 11) % 101) / 4 - (metric === "POWER" ? 10 : 0),
            labels: driver,
          }),
        );
      }
    }
  }
  return points;
}

async function rows(client: ClickHouseClient, sql: string): Promise<unknown[]> {
  const result = await client.query({ query: sql, format: "JSONEachRow" });
  return result.json();
}

async function viewTargets(client: ClickHouseClient) {
  return {
    gpus: await rows(client, "SELECT * EXCEPT metrics, arraySort(metrics) AS metrics FROM gpus FINAL ORDER BY uuid"),
    latest: await rows(client, "SELECT * FROM gpu_latest FINAL ORDER BY uuid, metric"),
    rollup: await rows(client, "SELECT * FROM datapoints_1m FINAL ORDER BY uuid, metric, minute"),
  };
}

async function insertInBatches(client: ClickHouseClient, points: readonly TelemetryPoint[]): Promise<void> {
  const batchRows = 500;
  for (let first = 0; first < points.length; first += batchRows) {
    await insertDatapoints(client, points.slice(first, first + batchRows), { dedupToken: `t/0/${first}` });
  }
}

/** A database with the migrations up to `version` only (later ones change these tables again). */
async function migratedUpTo(database: string, version: number): Promise<ClickHouseClient> {
  await migrate({
    client: fixture.admin,
    database,
    retentionDays: 30,
    clock: Date.now,
    migrations: migrations.filter((migration) => migration.version <= version),
  });
  return fixture.clientFor(database);
}

describe("views fed by the per-minute fanout (migration 4)", () => {
  test("fill gpus, gpu_latest and datapoints_1m exactly as the per-row views did", async () => {
    const points = dataset(recentMinuteMs());
    const before = await fixture.migratedDatabase("fanout_before");
    await fixture.admin.command({ query: "DROP DATABASE fanout_before" });
    await migrate({
      client: fixture.admin,
      database: "fanout_before",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.slice(0, 3),
    });
    await insertInBatches(before, points);
    const after = await migratedUpTo("fanout_after", 4);
    await insertInBatches(after, points);
    const expected = await viewTargets(before);
    expect(expected.gpus).toHaveLength(4);
    expect(expected.rollup.length).toBeGreaterThanOrEqual(36);
    expect(await viewTargets(after)).toEqual(expected);
  });

  test("an upgrade in place switches the views without losing or doubling what they hold", async () => {
    const points = dataset(recentMinuteMs());
    const half = Math.floor(points.length / 2);
    const reference = await migratedUpTo("fanout_reference", 4);
    await insertInBatches(reference, points);
    const upgraded = await fixture.migratedDatabase("fanout_upgraded");
    await fixture.admin.command({ query: "DROP DATABASE fanout_upgraded" });
    await migrate({
      client: fixture.admin,
      database: "fanout_upgraded",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.slice(0, 3),
    });
    await insertInBatches(upgraded, points.slice(0, half));
    const report = await migrate({
      client: fixture.admin,
      database: "fanout_upgraded",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.slice(0, 4),
    });
    expect(report.applied).toEqual([4]);
    for (let first = half; first < points.length; first += 500) {
      await insertDatapoints(upgraded, points.slice(first, Math.min(points.length, first + 500)), {
        dedupToken: `t/1/${first}`,
      });
    }
    expect(await viewTargets(upgraded)).toEqual(await viewTargets(reference));
  });
});
