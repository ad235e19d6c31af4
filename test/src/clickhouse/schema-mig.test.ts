import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { migrate } from "../../../src/clickhouse/migrations.ts";
import { migInstancesMigration } from "../../../src/clickhouse/schema/0007-mig-instances.ts";
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

const driver = { DCGM_FI_DRIVER_VERSION: "535.129.03" };

/**
 * Two minutes of one MIG GPU as dcgm-exporter reports it: the GPU's own temperature,
 * and per instance (GPU_I_ID 1 and 2) its framebuffer and engine activity, instance 1
 * used by pod train-a, instance 2 by infer-b; values differ per instance.
 */
function dataset(baseMs: number): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  for (let step = 0; step < 120; step += 1) {
    const ts = baseMs + step * 1_000;
    points.push(point({ ts, uuid: "GPU-MIG", metric: "TEMP", value: 40 + step, labels: driver }));
    for (const [instance, profile, pod] of [
      ["1", "3g.40gb", "train-a"],
      ["2", "1g.10gb", "infer-b"],
    ] as const) {
      const labels = { ...driver, GPU_I_ID: instance, GPU_I_PROFILE: profile };
      const workload = { namespace: "ml", pod, container: "main" };
      points.push(
        point({ ts, uuid: "GPU-MIG", metric: "FB_USED", value: Number(instance) * 1_000 + step, labels, ...workload }),
      );
      points.push(
        point({ ts, uuid: "GPU-MIG", metric: "GR_ACTIVE", value: Number(instance) / 10, labels, ...workload }),
      );
    }
  }
  return points;
}

async function insertFrom(client: ClickHouseClient, points: readonly TelemetryPoint[], tag: string): Promise<void> {
  for (let first = 0; first < points.length; first += 100) {
    await insertDatapoints(client, points.slice(first, first + 100), { dedupToken: `${tag}/${first}` });
  }
}

async function rows(client: ClickHouseClient, sql: string): Promise<Record<string, unknown>[]> {
  const result = await client.query({
    query: sql,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return result.json();
}

const latestSql = `SELECT gpu_instance, metric, tupleElement(max(latest), 'value') AS value
FROM gpu_latest GROUP BY uuid, gpu_instance, metric ORDER BY gpu_instance, metric`;
const instancesSql = `SELECT gpu_instance, tupleElement(max(profile), 'profile') AS profile,
    tupleElement(max(workload), 'pod') AS pod, arraySort(groupUniqArrayArray(metrics)) AS metrics,
    toUnixTimestamp64Milli(min(first_seen)) AS first_ms, toUnixTimestamp64Milli(max(last_seen)) AS last_ms
FROM mig_instances GROUP BY uuid, gpu_instance ORDER BY gpu_instance`;
const registrySql = `SELECT tupleElement(max(workload), 'pod') AS pod, arraySort(groupUniqArrayArray(metrics)) AS metrics,
    toUnixTimestamp64Milli(max(last_seen)) AS last_ms
FROM gpus GROUP BY uuid`;
const rollupSql = `SELECT gpu_instance, metric, sum(value_count) AS samples, max(value_max) AS value_max
FROM datapoints_1m GROUP BY gpu_instance, metric ORDER BY gpu_instance, metric`;

describe("MIG instances are series of their own (migration 7)", () => {
  test("latest values, rollup and registry keep each instance apart from its GPU and siblings", async () => {
    const baseMs = recentMinuteMs();
    const client = await fixture.migratedDatabase("mig_fresh");
    await insertFrom(client, dataset(baseMs), "a");
    expect(await rows(client, "SELECT DISTINCT gpu_instance, gpu_instance_profile FROM datapoints ORDER BY 1")).toEqual(
      [
        { gpu_instance: "", gpu_instance_profile: "" },
        { gpu_instance: "1", gpu_instance_profile: "3g.40gb" },
        { gpu_instance: "2", gpu_instance_profile: "1g.10gb" },
      ],
    );
    expect(await rows(client, latestSql)).toEqual([
      { gpu_instance: "", metric: "TEMP", value: 159 },
      { gpu_instance: "1", metric: "FB_USED", value: 1_119 },
      { gpu_instance: "1", metric: "GR_ACTIVE", value: 0.1 },
      { gpu_instance: "2", metric: "FB_USED", value: 2_119 },
      { gpu_instance: "2", metric: "GR_ACTIVE", value: 0.2 },
    ]);
    expect(await rows(client, instancesSql)).toEqual([
      {
        gpu_instance: "1",
        profile: "3g.40gb",
        pod: "train-a",
        metrics: ["FB_USED", "GR_ACTIVE"],
        first_ms: baseMs,
        last_ms: baseMs + 119_000,
      },
      {
        gpu_instance: "2",
        profile: "1g.10gb",
        pod: "infer-b",
        metrics: ["FB_USED", "GR_ACTIVE"],
        first_ms: baseMs,
        last_ms: baseMs + 119_000,
      },
    ]);
    // The GPU's own workload and metrics are its own datapoints'; it was last seen with any of them.
    expect(await rows(client, registrySql)).toEqual([{ pod: "", metrics: ["TEMP"], last_ms: baseMs + 119_000 }]);
    expect(await rows(client, rollupSql)).toEqual([
      { gpu_instance: "", metric: "TEMP", samples: 120, value_max: 159 },
      { gpu_instance: "1", metric: "FB_USED", samples: 120, value_max: 1_119 },
      { gpu_instance: "1", metric: "GR_ACTIVE", samples: 120, value_max: 0.1 },
      { gpu_instance: "2", metric: "FB_USED", samples: 120, value_max: 2_119 },
      { gpu_instance: "2", metric: "GR_ACTIVE", samples: 120, value_max: 0.2 },
    ]);
  });

  test("an upgrade in place reads old parts' instances from their labels and keeps new inserts apart", async () => {
    const baseMs = recentMinuteMs();
    const points = dataset(baseMs);
    const half = points.length / 2;
    await migrate({
      client: fixture.admin,
      database: "mig_upgraded",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.filter((migration) => migration.version < migInstancesMigration.version),
    });
    const upgraded = fixture.clientFor("mig_upgraded");
    await insertFrom(upgraded, points.slice(0, half), "u");
    const report = await migrate({
      client: fixture.admin,
      database: "mig_upgraded",
      retentionDays: 30,
      clock: Date.now,
    });
    // A database at main's schema (through 0006, the source offsets) takes this one alone.
    expect(report).toEqual({
      applied: [migInstancesMigration.version],
      alreadyApplied: migrations
        .filter((migration) => migration.version < migInstancesMigration.version)
        .map((m) => m.version),
      unknown: [],
    });
    // Parts written before the upgrade: the instance is computed from the labels on read.
    const counts = "SELECT gpu_instance, count() AS n FROM datapoints GROUP BY gpu_instance ORDER BY gpu_instance";
    expect(await rows(upgraded, counts)).toEqual([
      { gpu_instance: "", n: 60 },
      { gpu_instance: "1", n: 120 },
      { gpu_instance: "2", n: 120 },
    ]);
    await insertFrom(upgraded, points.slice(half), "v");
    const reference = await fixture.migratedDatabase("mig_reference");
    await insertFrom(reference, points.slice(half), "r");
    // What the views received after the upgrade is what a fresh schema makes of the same inserts.
    expect(await rows(upgraded, instancesSql)).toEqual(await rows(reference, instancesSql));
    const instanceLatest = `${latestSql.replace("GROUP BY", "WHERE gpu_instance != '' GROUP BY")}`;
    expect(await rows(upgraded, instanceLatest)).toEqual(await rows(reference, instanceLatest));
    expect((await rows(upgraded, registrySql))[0]).toMatchObject({ pod: "", last_ms: baseMs + 119_000 });
  });

  test("applying it twice changes nothing", async () => {
    await fixture.migratedDatabase("mig_twice");
    const again = await migrate({ client: fixture.admin, database: "mig_twice", retentionDays: 30, clock: Date.now });
    expect(again.applied).toEqual([]);
    for (const migration of migrations) {
      for (const template of migration.statements) {
        if (migration.version === migInstancesMigration.version)
          await fixture.admin.command({
            query: template.replaceAll("{{db}}", "mig_twice").replaceAll("{{retention_days}}", "30"),
          });
      }
    }
    const keys = await rows(
      fixture.admin,
      "SELECT name, sorting_key FROM system.tables WHERE database = 'mig_twice' AND name IN ('gpu_latest', 'datapoints_1m') ORDER BY name",
    );
    expect(keys).toEqual([
      { name: "datapoints_1m", sorting_key: "uuid, metric, minute, gpu_instance" },
      { name: "gpu_latest", sorting_key: "uuid, metric, gpu_instance" },
    ]);
  });
});
