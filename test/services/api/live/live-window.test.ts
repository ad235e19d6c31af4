import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { LiveTail } from "../../../../services/api/live/live-tail.ts";
import { liveTelemetryPage, type PageSource } from "../../../../services/api/live/live-window.ts";
import { type TailRow, TailStore } from "../../../../services/api/live/tail-store.ts";
import { BrokerHttp } from "../../../../src/broker-client/http-client.ts";
import { createClickHouse } from "../../../../src/clickhouse/client.ts";
import { createFetchReader } from "../../../../src/clickhouse/fetch-reader.ts";
import { migrate } from "../../../../src/clickhouse/migrations.ts";
import {
  type TelemetryCursor,
  type TelemetryPage,
  type TelemetryPageOptions,
  telemetryPage,
} from "../../../../src/clickhouse/telemetry-page.ts";
import type { RowsClient } from "../../../../src/clickhouse/typed-query.ts";
import type { TelemetryPoint } from "../../../../src/domain/telemetry.ts";
import { createLogger } from "../../../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../../../src/observability/metrics.ts";
import { encodeTelemetryRecord } from "../../../../src/telemetry/record-codec.ts";
import { type BrokerProcess, startBroker } from "../../../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../../support/embedded-clickhouse.ts";
import { waitUntil } from "../../../support/service-process.ts";
import { testBrokerToken } from "../../../support/test-tokens.ts";
import { type CollectorProcess, startCollector, waitReady } from "../../collector/collector-process.ts";
import { createTopic, produceRecords, rowCount } from "../../collector/telemetry-fixture.ts";

/**
 * The live path (tail from the horizon on, ClickHouse before it) against ClickHouse
 * alone, on real data: records produced to a real broker, inserted by a real collector
 * into the real engine, and read back by the tail from the same broker. Every page of
 * many walks must be equal: rows, order, bounds, metric filter, limit and cursors.
 */

const database = "live_window";
const topic = "telemetry";
const gpus = Array.from({ length: 6 }, (_, index) => `GPU-11111111-0000-0000-0000-00000000000${index}`);
/** Includes names whose UTF-8 order differs from their UTF-16 order (ClickHouse sorts bytes). */
const metrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "m\u{1F600}", "m\uFFFD"];

let clickhouse: EmbeddedClickHouse;
let broker: BrokerProcess;
let collector: CollectorProcess;
let client: ClickHouseClient;
let reader: RowsClient;
let tail: LiveTail;
const store = new TailStore({ spanMs: 86_400_000, rowsMax: 1_000_000 });
let validRecords = 0;
const arrived: TailRow[] = [];
let horizonMs = 0;
const baseMs = Math.floor((Date.now() - 600_000) / 1000) * 1000;

function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
/** Pods come and go; some datapoints are a MIG instance's (GPU_I_ID), which is a series of its own. */
const workloads = [
  { namespace: "", pod: "", container: "" },
  { namespace: "", pod: "", container: "" },
  { namespace: "ml", pod: "train-1", container: "main" },
  { namespace: "ml", pod: "train-2", container: "main" },
  { namespace: "infer", pod: "serve-1", container: "" },
];
const gpuInstances = ["", "", "1", "13"];
const instanceLabels = gpuInstances.map(
  (instance): Record<string, string> =>
    instance === "" ? {} : { GPU_I_ID: instance, GPU_I_PROFILE: "1g.10gb", DCGM_FI_DRIVER_VERSION: "550.54.15" },
);
const random = mulberry32(15);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** Many rows share a ts, a (ts, metric), even a whole key; some are exact duplicates; arrival is out of order. */
function points(count: number, fromMs: number, spanMs: number): TelemetryPoint[] {
  const made: TelemetryPoint[] = [];
  while (made.length < count) {
    const ts = fromMs + Math.floor((random() * spanMs) / 250) * 250;
    const uuid = pick(gpus);
    const point: TelemetryPoint = {
      ts,
      source_ts: ts - (random() < 0.5 ? 0 : 1_000),
      uuid,
      hostname: "host-live",
      gpu_index: gpus.indexOf(uuid),
      device: "nvidia0",
      model: "NVIDIA H100 80GB HBM3",
      metric: pick(metrics),
      value: Math.round(random() * 10) / 2 - 2,
      ...pick(workloads),
      labels: pick(instanceLabels),
    };
    made.push(point);
    if (random() < 0.05) made.push({ ...point });
  }
  return made;
}

async function produce(batch: readonly TelemetryPoint[], poison = false): Promise<void> {
  const records: { key: string; value: string | Uint8Array }[] = batch.map((point) => ({
    key: point.uuid,
    value: encodeTelemetryRecord(point),
  }));
  if (poison) {
    // Dead letters: the tail must refuse what the collector refuses.
    records.push({ key: gpus[0] as string, value: JSON.stringify({ ...batch[0], value: "not a number" }) });
    records.push({ key: gpus[1] as string, value: new Uint8Array([5, 1, 2, 3]) });
  }
  await produceRecords(broker.url, topic, records);
  validRecords += batch.length;
}

async function waitForClickHouse(): Promise<void> {
  await waitUntil(
    async () => (await rowCount(client)) === validRecords,
    async () =>
      `ClickHouse holds ${await rowCount(client)} of ${validRecords}\n${collector.logs().slice(-10).join("\n")}`,
    60_000,
  );
}

beforeAll(async () => {
  [clickhouse, broker] = await Promise.all([startEmbeddedClickHouse(), startBroker()]);
  const connection = {
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    requestTimeoutMs: 30_000,
  };
  const admin = createClickHouse({ ...connection, database: "default" });
  await migrate({ client: admin, database, retentionDays: 30, clock: Date.now });
  await admin.close();
  client = createClickHouse({ ...connection, database });
  reader = createFetchReader({ ...connection, database });
  await createTopic(broker.url, topic, 4);
  collector = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database,
  });
  await waitReady(collector);
  // Before the tail starts: everything here is older than its horizon.
  await produce(points(1_200, baseMs, 60_000), true);
  await waitForClickHouse();
  tail = new LiveTail({
    http: new BrokerHttp({ brokerUrl: broker.url, token: testBrokerToken }),
    topic,
    group: "collectors",
    store,
    clickhouse: reader,
    commitPollMs: 50,
    fetchWaitMs: 200,
    fetchBytesMax: 1 << 20,
    pendingRecordsMax: 100_000,
    clock: Date.now,
    logger: createLogger({ service: "api", instanceId: "test", level: "silent" }),
    registry: createMetricsRegistry({ service: "api", instanceId: "test" }),
    onArrived: ({ columns, from, to, names }) => {
      for (let index = from; index < to; index += 1) {
        arrived.push({
          gpu: names.seriesName(columns.series[index] as number),
          tsMs: columns.ts[index] as number,
          metric: names.metricName(columns.metric[index] as number),
          sourceTsMs: columns.sourceTs[index] as number,
          value: columns.value[index] as number,
        });
      }
    },
  });
  tail.start();
  await waitUntil(
    () => tail.status().state === "live",
    () => JSON.stringify(tail.status()),
  );
  horizonMs = store.horizonMs ?? 0;
  // After: most rows are past the horizon (the tail's), some arrive late with older times (ClickHouse's only).
  const late = points(150, baseMs, horizonMs - baseMs);
  const atHorizon = points(30, horizonMs, 1);
  await produce([...points(1_500, horizonMs, 60_000), ...late, ...atHorizon], true);
  await waitForClickHouse();
  await waitUntil(
    async () => tail.status().state === "live" && (await tailRows()) === (await clickhouseRowsFrom(horizonMs)),
    async () =>
      `tail ${await tailRows()} rows, ClickHouse ${await clickhouseRowsFrom(horizonMs)} from the horizon ${horizonMs}, ${JSON.stringify(tail.status())}`,
  );
}, 120_000);

afterAll(async () => {
  await tail?.stop();
  await client?.close();
  await collector?.stop();
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
}, 60_000);

async function tailRows(): Promise<number> {
  let rows = 0;
  for (const uuid of gpus) {
    for (const gpuInstance of new Set(gpuInstances)) {
      const all = { uuid, gpuInstance, startMs: 0, endMs: Number.MAX_SAFE_INTEGER, order: "asc" as const };
      rows += store.select({ ...all, count: 1_000_000 }).length;
    }
  }
  return rows;
}

async function clickhouseRowsFrom(startMs: number): Promise<number> {
  const result = await client.query({
    query: "SELECT count() AS n FROM datapoints WHERE ts >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')",
    query_params: { start: startMs },
    format: "JSONEachRow",
  });
  return Number(((await result.json()) as { n: string }[])[0]?.n ?? 0);
}

type Walk = Omit<TelemetryPageOptions, "after">;
const pagesMax = 25;

async function walk(read: (options: TelemetryPageOptions) => Promise<TelemetryPage>, options: Walk) {
  const pages: TelemetryPage[] = [];
  let after: TelemetryCursor | undefined;
  for (let index = 0; index < pagesMax; index += 1) {
    const page = await read({ ...options, after });
    pages.push(page);
    if (page.next === undefined) break;
    after = page.next;
  }
  return pages;
}

describe("live windows: the tail and ClickHouse together answer exactly what ClickHouse alone answers", () => {
  test("the data straddles the horizon: rows on both sides, late rows behind it, rows at it", async () => {
    expect(horizonMs).toBeGreaterThan(baseMs);
    const before = await clickhouseRowsFrom(0);
    const after = await clickhouseRowsFrom(horizonMs);
    expect(after).toBeGreaterThan(1_500);
    expect(before - after).toBeGreaterThan(1_300);
    expect(before).toBe(validRecords);
  });

  test("every page of 80 random walks: windows, GPUs and MIG instances, metric and pod filters, both orders, limits, cursors", async () => {
    const sources = new Map<PageSource, number>();
    const live = async (options: TelemetryPageOptions) => {
      const answer = await liveTelemetryPage(reader, store, options);
      sources.set(answer.source, (sources.get(answer.source) ?? 0) + 1);
      return answer.page;
    };
    const edges = [baseMs - 1, baseMs, horizonMs - 1_000, horizonMs - 1, horizonMs, horizonMs + 1, horizonMs + 30_000];
    const ends = [
      horizonMs - 1,
      horizonMs,
      horizonMs + 250,
      horizonMs + 20_000,
      horizonMs + 60_000,
      Date.now() + 60_000,
    ];
    for (let walkIndex = 0; walkIndex < 80; walkIndex += 1) {
      const startMs = pick(edges);
      const endMs = Math.max(startMs, pick(ends));
      const filter = pick([undefined, [pick(metrics)], [metrics[3] as string, metrics[4] as string], ["NOT_THERE"]]);
      const options: Walk = {
        uuid: pick(gpus),
        gpuInstance: pick(gpuInstances),
        workload: pick([undefined, undefined, { pod: "train-1" }, { namespace: "ml" }, { namespace: "", pod: "" }]),
        startMs,
        endMs,
        metrics: filter,
        order: pick(["asc", "desc"] as const),
        limit: pick([1, 2, 5, 17, 100, 10_000]),
      };
      const expected = await walk((page) => telemetryPage(reader, page), options);
      expect({ options, pages: await walk(live, options) }).toEqual({ options, pages: expected });
    }
    // The walks went through every path.
    expect(sources.get("tail")).toBeGreaterThan(0);
    expect(sources.get("both")).toBeGreaterThan(0);
    expect(sources.get("clickhouse")).toBeGreaterThan(0);
  }, 120_000);

  test("a record in the broker but not yet committed (no collector) stays out of the tail until it is", async () => {
    const uuid = "GPU-22222222-0000-0000-0000-000000000000";
    await collector.stop();
    const fresh = points(40, Date.now(), 1_000).map((point) => ({ ...point, uuid, labels: {} }));
    await produce(fresh);
    await Bun.sleep(1_000);
    expect(store.has(uuid)).toBe(false);
    // The streams have them already: they follow the broker, not the commits.
    expect(arrived.filter((row) => row.gpu === uuid)).toHaveLength(40);
    collector = await startCollector({
      brokerUrl: broker.url,
      clickhouseUrl: clickhouse.url,
      clickhousePassword: clickhouse.password,
      database,
    });
    await waitForClickHouse();
    await waitUntil(
      () => store.select({ uuid, startMs: 0, endMs: Number.MAX_SAFE_INTEGER, order: "asc", count: 100 }).length === 40,
      () =>
        `tail holds ${store.select({ uuid, startMs: 0, endMs: Number.MAX_SAFE_INTEGER, order: "asc", count: 100 }).length} of 40`,
    );
    const options: Walk = { uuid, startMs: horizonMs, endMs: Date.now() + 10_000, order: "desc", limit: 7 };
    expect(await walk((page) => liveTelemetryPage(reader, store, page).then((a) => a.page), options)).toEqual(
      await walk((page) => telemetryPage(reader, page), options),
    );
  }, 60_000);
});
