import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { findGpuByHostIndex, getGpu, latestValues, listGpus, listHosts } from "../../../src/clickhouse/gpu-queries.ts";
import { ping } from "../../../src/clickhouse/ping.ts";
import { freePort } from "../../support/free-port.ts";
import { type ClickHouseFixture, point, recentMinuteMs, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;
let client: ClickHouseClient;
const base = recentMinuteMs();

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("gpu_queries");
  // GPU-a: two batches, the driver label appears late and a later batch moves nothing.
  const first = [
    point({ ts: base + 1_000, uuid: "GPU-a", metric: "TEMP", value: 40, labels: {} }),
    point({ ts: base + 2_000, uuid: "GPU-a", metric: "UTIL", value: 10, labels: {} }),
  ];
  const second = [
    point({
      ts: base + 5_000,
      uuid: "GPU-a",
      metric: "TEMP",
      value: 45,
      labels: { DCGM_FI_DRIVER_VERSION: "550.1" },
      ...{ namespace: "ml", pod: "train-2", container: "worker" },
    }),
    point({ ts: base + 3_000, uuid: "GPU-a", metric: "UTIL", value: 99, labels: {}, namespace: "ml", pod: "train-1" }),
    point({ ts: base + 4_000, uuid: "GPU-a", metric: "POWER", value: 300.5, labels: {} }),
  ];
  // GPU-b on host-b; GPU-c replaced GPU-b's slot later (same host, same index).
  const others = [
    point({ ts: base + 1_500, uuid: "GPU-b", hostname: "host-b", gpu_index: 3, labels: {} }),
    point({ ts: base + 9_000, uuid: "GPU-c", hostname: "host-b", gpu_index: 3, device: "nvidia3" }),
    point({ ts: base + 9_500, uuid: "GPU-d", hostname: "host-c", gpu_index: 0 }),
  ];
  await insertDatapoints(client, first, { dedupToken: "t/0/0-1" });
  await insertDatapoints(client, second, { dedupToken: "t/0/2-4" });
  await insertDatapoints(client, others, { dedupToken: "t/1/0-2" });
});
afterAll(async () => {
  await fixture?.stop();
});

describe("GPU registry", () => {
  test("reflects every GPU with first/last seen, sorted metrics, the latest driver and workload", async () => {
    const gpu = await getGpu(client, "GPU-a");
    expect(gpu).toEqual({
      uuid: "GPU-a",
      hostname: "host-a",
      gpu_index: 0,
      device: "nvidia0",
      model: "NVIDIA H100 80GB HBM3",
      driver_version: "550.1",
      namespace: "ml",
      pod: "train-2",
      container: "worker",
      first_seen_ms: base + 1_000,
      last_seen_ms: base + 5_000,
      metrics: ["POWER", "TEMP", "UTIL"],
    });
    expect((await getGpu(client, "GPU-b"))?.driver_version).toBe("");
    expect(await getGpu(client, "GPU-b")).toMatchObject({ namespace: "", pod: "", container: "" });
    expect(await getGpu(client, "GPU-unknown")).toBeUndefined();
  });

  test("lists GPUs in uuid order with keyset pages and a host filter", async () => {
    const page1 = await listGpus(client, { limit: 2 });
    expect(page1.map((gpu) => gpu.uuid)).toEqual(["GPU-a", "GPU-b"]);
    const page2 = await listGpus(client, { limit: 2, afterUuid: "GPU-b" });
    expect(page2.map((gpu) => gpu.uuid)).toEqual(["GPU-c", "GPU-d"]);
    expect(await listGpus(client, { limit: 2, afterUuid: "GPU-d" })).toEqual([]);
    const onHostB = await listGpus(client, { limit: 10, hostname: "host-b" });
    expect(onHostB.map((gpu) => gpu.uuid)).toEqual(["GPU-b", "GPU-c"]);
    expect(await listGpus(client, { limit: 10, hostname: "host-zzz" })).toEqual([]);
  });

  test("refuses a limit outside [1, max]", async () => {
    await expect(listGpus(client, { limit: 0 })).rejects.toThrow(RangeError);
    await expect(listGpus(client, { limit: 1_001 })).rejects.toThrow(RangeError);
  });

  test("finds a GPU by host and index, preferring the one seen last", async () => {
    expect((await findGpuByHostIndex(client, { hostname: "host-b", gpuIndex: 3 }))?.uuid).toBe("GPU-c");
    expect((await findGpuByHostIndex(client, { hostname: "host-a", gpuIndex: 0 }))?.uuid).toBe("GPU-a");
    expect(await findGpuByHostIndex(client, { hostname: "host-a", gpuIndex: 1 })).toBeUndefined();
  });

  test("latest values are the newest per metric by processing time, not by insert order", async () => {
    expect(await latestValues(client, "GPU-a")).toEqual([
      { metric: "POWER", ts_ms: base + 4_000, value: 300.5 },
      { metric: "TEMP", ts_ms: base + 5_000, value: 45 },
      { metric: "UTIL", ts_ms: base + 3_000, value: 99 },
    ]);
    expect(await latestValues(client, "GPU-unknown")).toEqual([]);
  });

  test("lists hosts with their GPU counts", async () => {
    expect(await listHosts(client)).toEqual([
      { hostname: "host-a", gpu_count: 1, last_seen_ms: base + 5_000 },
      { hostname: "host-b", gpu_count: 2, last_seen_ms: base + 9_000 },
      { hostname: "host-c", gpu_count: 1, last_seen_ms: base + 9_500 },
    ]);
  });

  test("the answers are the same after the registry's parts are merged", async () => {
    const before = await listGpus(client, { limit: 10 });
    await client.command({ query: "OPTIMIZE TABLE gpus FINAL" });
    await client.command({ query: "OPTIMIZE TABLE gpu_latest FINAL" });
    expect(await listGpus(client, { limit: 10 })).toEqual(before);
    expect((await latestValues(client, "GPU-a")).map((row) => row.value)).toEqual([300.5, 45, 99]);
  });

  test("ping answers true while ClickHouse runs", async () => {
    expect(await ping(client)).toBe(true);
  });

  test("ping answers false, without throwing, when nothing listens", async () => {
    const port = await freePort();
    const nowhere = createClickHouse({
      url: `http://127.0.0.1:${port}`,
      username: "default",
      password: "",
      database: "default",
      requestTimeoutMs: 2_000,
    });
    try {
      expect(await ping(nowhere)).toBe(false);
    } finally {
      await nowhere.close();
    }
  });
});
