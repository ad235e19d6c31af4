import { afterAll, beforeAll, expect, test } from "bun:test";
import { Writable } from "node:stream";
import type { ClickHouseClient } from "@clickhouse/client";
import { registerGpuHealthMetrics } from "../../../services/api/gpu-health-metrics.ts";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import type { RowsClient, RowsQuery } from "../../../src/clickhouse/typed-query.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { Registry } from "../../../src/observability/metrics.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "../../src/clickhouse/fixture.ts";
import { exporterText, nodeName } from "../../support/fake-dcgm-exporters.ts";
import { fleetPoints, scrapePoints } from "../../support/fleet-datapoints.ts";

const logger = createLogger({
  service: "test",
  instanceId: "test",
  level: "silent",
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});
const nowMs = Date.now();
const staleMs = 300_000;
let fixture: ClickHouseFixture;
let client: ClickHouseClient;

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("gpu_health");
  // Nodes 0 and 1 report now; node 2 stopped an hour ago.
  const points = [
    ...fleetPoints({ nodes: 2, scrapes: 3, stepMs: 10_000, lastMs: nowMs - 5_000 }),
    ...scrapePoints(2, 1, nowMs - 3_600_000),
  ];
  await insertDatapoints(client, points, { dedupToken: "gpu-health/0/0-0" });
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

/** The real client, counting the queries it runs. */
function counting(): RowsClient & { queries: number; failing: boolean } {
  const wrapper = {
    queries: 0,
    failing: false,
    query(query: RowsQuery) {
      wrapper.queries += 1;
      if (wrapper.failing) return Promise.reject(new Error("ClickHouse is down"));
      return client.query(query);
    },
  };
  return wrapper;
}

function series(page: string, name: string): { labels: Record<string, string>; value: number }[] {
  const found: { labels: Record<string, string>; value: number }[] = [];
  for (const line of page.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
    found.push({ labels, value: Number(line.slice(line.lastIndexOf(" ") + 1)) });
  }
  return found;
}

const uuidOf = (node: number, gpu: number) =>
  [...exporterText(node, 0).matchAll(/UUID="([^"]+)"/g)]
    .map((match) => match[1])
    .find((uuid) => uuid?.startsWith(`GPU-${node.toString(16).padStart(6, "0")}${gpu.toString(16).padStart(2, "0")}`));

test("temperature of every reporting GPU, the XID and the thermal throttling of the fourth, freshness; stale GPUs left out", async () => {
  const registry = new Registry();
  const reader = counting();
  let clockMs = nowMs;
  registerGpuHealthMetrics({ reader, registry, logger, staleMs, cacheMs: 10_000, clock: () => clockMs });
  const page = await registry.metrics();

  const temperatures = series(page, "telemetry_gpu_temperature_celsius");
  expect(temperatures).toHaveLength(8);
  expect(new Set(temperatures.map((entry) => entry.labels.hostname))).toEqual(new Set([nodeName(0), nodeName(1)]));
  const hot = temperatures.find((entry) => entry.labels.uuid === uuidOf(1, 3));
  expect(hot).toEqual({
    labels: {
      uuid: uuidOf(1, 3) ?? "",
      hostname: nodeName(1),
      gpu: "3",
      model: "NVIDIA H100 80GB HBM3",
      workload_namespace: "ml-research",
      workload_pod: "llama3-70b-finetune-1",
    },
    value: 89,
  });
  const xids = series(page, "telemetry_xid_error_gpus");
  expect(xids.map((entry) => [entry.labels.hostname, entry.labels.gpu, entry.labels.xid, entry.value]).sort()).toEqual([
    [nodeName(0), "3", "79", 1],
    [nodeName(1), "3", "79", 1],
  ]);
  const throttled = series(page, "telemetry_throttled_gpus");
  expect(
    throttled.map((entry) => [entry.labels.hostname, entry.labels.gpu, entry.labels.reason, entry.value]).sort(),
  ).toEqual([
    [nodeName(0), "3", "thermal", 1],
    [nodeName(1), "3", "thermal", 1],
  ]);
  const freshness = series(page, "telemetry_data_freshness_seconds");
  expect(page).toMatch(/^telemetry_data_freshness_seconds \d/m);
  expect(freshness).toHaveLength(0);
  const age = Number(/^telemetry_data_freshness_seconds (\S+)$/m.exec(page)?.[1]);
  expect(age).toBeGreaterThanOrEqual(4);
  expect(age).toBeLessThan(60);
  // Four gauges, one query.
  expect(reader.queries).toBe(1);

  // Within cacheMs the answer is reused; after it, a failing ClickHouse keeps the last one.
  clockMs += 5_000;
  await registry.metrics();
  expect(reader.queries).toBe(1);
  clockMs += 10_000;
  reader.failing = true;
  const during = await registry.metrics();
  expect(reader.queries).toBe(2);
  expect(series(during, "telemetry_gpu_temperature_celsius")).toHaveLength(8);
  expect(during).toMatch(/^telemetry_gpu_health_errors_total 1$/m);

  // Ten minutes on, nothing is fresh: the GPU series end, freshness says how old the data is.
  reader.failing = false;
  clockMs += 600_000;
  const later = await registry.metrics();
  expect(series(later, "telemetry_gpu_temperature_celsius")).toHaveLength(0);
  expect(series(later, "telemetry_xid_error_gpus")).toHaveLength(0);
  expect(Number(/^telemetry_data_freshness_seconds (\S+)$/m.exec(later)?.[1])).toBeGreaterThan(600);
});
