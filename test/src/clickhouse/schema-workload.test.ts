import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { getGpu } from "../../../src/clickhouse/gpu-queries.ts";
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

/** Two GPUs for two minutes; GPU-1 runs pod train-a, then train-b, then nothing. */
function dataset(baseMs: number): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  for (let step = 0; step < 120; step += 1) {
    for (const metric of ["UTIL", "TEMP"]) {
      const pod = step < 40 ? "train-a" : step < 100 ? "train-b" : "";
      points.push(
        point({ ts: baseMs + step * 1_000, uuid: "GPU-1", metric, value: step, pod, namespace: pod && "ml" }),
        point({ ts: baseMs + step * 1_000 + 1, uuid: "GPU-2", metric, value: step, container: "c", pod: "p" }),
      );
    }
  }
  return points;
}

async function insertFrom(client: ClickHouseClient, points: readonly TelemetryPoint[], tag: string): Promise<void> {
  for (let first = 0; first < points.length; first += 60) {
    await insertDatapoints(client, points.slice(first, first + 60), { dedupToken: `${tag}/${first}` });
  }
}

async function registry(client: ClickHouseClient): Promise<unknown[]> {
  const result = await client.query({
    query: "SELECT * EXCEPT (metrics, workload), arraySort(metrics) AS metrics FROM gpus FINAL ORDER BY uuid",
    format: "JSONEachRow",
  });
  return result.json();
}

describe("the registry keeps the workload (migration 5)", () => {
  test("the newest datapoint's namespace, pod and container win, also when the pod ended", async () => {
    const baseMs = recentMinuteMs();
    const client = await fixture.migratedDatabase("workload_fresh");
    const points = dataset(baseMs);
    await insertFrom(client, points.slice(0, 200), "a");
    expect(await getGpu(client, "GPU-1")).toMatchObject({ namespace: "ml", pod: "train-b", container: "" });
    await insertFrom(client, points.slice(200), "b");
    expect(await getGpu(client, "GPU-1")).toMatchObject({ namespace: "", pod: "", container: "" });
    expect(await getGpu(client, "GPU-2")).toMatchObject({ namespace: "", pod: "p", container: "c" });
  });

  test("an upgrade in place leaves the rest of the registry as it was and fills the workload from then on", async () => {
    const baseMs = recentMinuteMs();
    const points = dataset(baseMs);
    const half = points.length / 2;
    await migrate({
      client: fixture.admin,
      database: "workload_reference",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.filter((migration) => migration.version <= 5),
    });
    const reference = fixture.clientFor("workload_reference");
    await insertFrom(reference, points, "r");
    await migrate({
      client: fixture.admin,
      database: "workload_upgraded",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.filter((migration) => migration.version <= 4),
    });
    const upgraded = fixture.clientFor("workload_upgraded");
    await insertFrom(upgraded, points.slice(0, half), "u");
    const report = await migrate({
      client: fixture.admin,
      database: "workload_upgraded",
      retentionDays: 30,
      clock: Date.now,
      migrations: migrations.filter((migration) => migration.version <= 5),
    });
    expect(report.applied).toEqual([5]);
    expect(await getGpu(upgraded, "GPU-2")).toMatchObject({ pod: "", container: "" });
    await insertFrom(upgraded, points.slice(half), "u");
    expect(await registry(upgraded)).toEqual(await registry(reference));
    expect(await getGpu(upgraded, "GPU-2")).toMatchObject({ pod: "p", container: "c" });
    expect(await getGpu(upgraded, "GPU-1")).toMatchObject({ pod: "" });
  });
});
