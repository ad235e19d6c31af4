import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { BatchInserter, InsertAbandonedError } from "../../../services/collector/batch-inserter.ts";
import { concatGroupRows } from "../../../services/collector/insert-coalescer.ts";
import { createCollectorMetrics } from "../../../services/collector/metrics.ts";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { batchDedupToken } from "../../../src/clickhouse/datapoints-insert.ts";
import { SourceSuffix } from "../../../src/clickhouse/source-columns.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";
import { encodeTelemetryRecord, recordRow } from "../../../src/telemetry/record-codec.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "../../src/clickhouse/fixture.ts";
import { freePort } from "../../support/free-port.ts";
import { metricValue } from "../../support/prometheus.ts";
import { pointAt, recentBaseMs, rowCount } from "./telemetry-fixture.ts";

let fixture: ClickHouseFixture;
let client: ClickHouseClient;
const logger = createLogger({ service: "collector-test", instanceId: "test", level: "silent" });

beforeAll(async () => {
  fixture = await startClickHouseFixture();
  client = await fixture.migratedDatabase("inserter");
});

afterAll(async () => {
  await fixture?.stop();
});

function newInserter(target: ClickHouseClient) {
  const registry = createMetricsRegistry({ service: "collector-test", instanceId: "test" });
  const metrics = createCollectorMetrics(registry, { assignedPartitions: () => 0, lagRecords: () => new Map() });
  const inserter = new BatchInserter({
    client: target,
    backoff: { backoffMsMin: 5, backoffMsMax: 20 },
    insertsInFlightMax: 2,
    metrics,
    logger,
  });
  return { inserter, registry };
}

const source = new SourceSuffix({ name: "telemetry", id: 1 });

/** A collector's body: rows of records at offsets from..from+count-1 of partition 3, each with its source. */
function body(from: number, count: number): Uint8Array {
  const rows = Array.from({ length: count }, (_, index) =>
    recordRow(encodeTelemetryRecord(pointAt(from + index, recentBaseMs()))),
  );
  const offsets = rows.map((_, index) => from + index);
  const rowBytes = rows.reduce((sum, row) => sum + row.byteLength, 0);
  return concatGroupRows([{ partition: 3, rows, offsets, rowBytes }], source);
}

test("a replayed batch (same offset range, same token) is stored once; another range is stored", async () => {
  const { inserter, registry } = newInserter(client);
  const batch = { body: body(0, 500), rows: 500, abandon: () => false, signal: new AbortController().signal };
  const token = batchDedupToken({ topic: "telemetry", partition: 3, firstOffset: 1_000, lastOffset: 1_499 });
  await inserter.insert({ ...batch, dedupToken: token });
  await inserter.insert({ ...batch, dedupToken: token });
  expect(await rowCount(client)).toBe(500);
  await inserter.insert({
    body: body(500, 200),
    rows: 200,
    abandon: () => false,
    signal: batch.signal,
    dedupToken: `${token}x`,
  });
  expect(await rowCount(client)).toBe(700);
  expect(metricValue(await registry.metrics(), "collector_rows_inserted_total")).toBe(1_200);
});

test("a failing insert is retried with backoff, reports failing, and can be abandoned", async () => {
  const down = createClickHouse({
    url: `http://127.0.0.1:${await freePort()}`,
    username: "default",
    password: "",
    database: "inserter",
    requestTimeoutMs: 1_000,
  });
  const { inserter, registry } = newInserter(down);
  const startedMs = performance.now();
  const attempt = inserter.insert({
    body: body(0, 10),
    rows: 10,
    dedupToken: "telemetry/0/0-9",
    abandon: () => performance.now() - startedMs > 300,
    signal: new AbortController().signal,
  });
  await expect(attempt).rejects.toBeInstanceOf(InsertAbandonedError);
  expect(inserter.failing).toBe(true);
  expect(metricValue(await registry.metrics(), "collector_insert_retries_total")).toBeGreaterThanOrEqual(3);
  await down.close();
});
