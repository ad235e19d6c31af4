import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { encodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { startCollector, waitReady, waitUntil } from "../services/collector/collector-process.ts";
import {
  committedOffsets,
  createTopic,
  pointAt,
  produceRecords,
  readTopic,
  recentBaseMs,
  rowCount,
  wireRecords,
} from "../services/collector/telemetry-fixture.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { metricValue } from "../support/prometheus.ts";
import { brokerFetch } from "../support/test-tokens.ts";

let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;
const clients: ClickHouseClient[] = [];

beforeAll(async () => {
  [broker, clickhouse] = await Promise.all([startBroker(), startEmbeddedClickHouse()]);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
});

function clientFor(database: string): ClickHouseClient {
  const client = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database,
    requestTimeoutMs: 30_000,
  });
  clients.push(client);
  return client;
}

test("rows land with their values and types, poison goes to the dead-letter topic, SIGTERM commits and exits 0", async () => {
  const topic = "telemetry-pipeline";
  const deadLetterTopic = `${topic}.dlq`;
  await createTopic(broker.url, topic, 3);
  const baseMs = recentBaseMs();
  const good = wireRecords(0, 3_000, baseMs);
  const truncated = encodeTelemetryRecord(pointAt(99_997, baseMs)).subarray(0, 50);
  const poison = [
    { key: "GPU-poison-0", value: "this is not a record" },
    { key: "GPU-poison-1", value: truncated },
    { key: "GPU-poison-2", value: JSON.stringify({ ...pointAt(99_999, baseMs), uuid: "" }) },
    { key: "GPU-poison-3", value: JSON.stringify({ ...pointAt(99_998, baseMs), value: "hot" }) },
  ];
  await produceRecords(broker.url, topic, [...good.slice(0, 1_500), ...poison, ...good.slice(1_500)]);

  const collector = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database: "pipeline",
    env: {
      COLLECTOR_TOPIC: topic,
      COLLECTOR_GROUP: "pipeline",
      COLLECTOR_DEAD_LETTER_TOPIC: deadLetterTopic,
      COLLECTOR_BATCH_ROWS_MAX: "700",
    },
  });
  const client = clientFor("pipeline");
  try {
    await waitReady(collector);
    await waitUntil(
      async () => (await rowCount(client).catch(() => 0)) >= good.length,
      async () => `rows ${await rowCount(client)}`,
    );
    expect(await rowCount(client)).toBe(good.length);

    const expected = pointAt(1_234, baseMs);
    const result = await client.query({
      query: `SELECT toUnixTimestamp64Milli(ts) AS ts_ms, toUnixTimestamp64Milli(source_ts) AS source_ts_ms, hostname, gpu_index, device, model, value,
              container, pod, namespace, labels, driver_version, toTypeName(ts) AS ts_type, toTypeName(value) AS value_type
              FROM datapoints WHERE uuid = {uuid:String} AND metric = {metric:String} AND toUnixTimestamp64Milli(ts) = {ts:Int64}`,
      query_params: { uuid: expected.uuid, metric: expected.metric, ts: expected.ts },
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const rows = await result.json<Record<string, unknown>>();
    expect(rows).toEqual([
      {
        ts_ms: expected.ts,
        source_ts_ms: expected.source_ts,
        hostname: expected.hostname,
        gpu_index: expected.gpu_index,
        device: expected.device,
        model: expected.model,
        value: expected.value,
        container: expected.container,
        pod: expected.pod,
        namespace: expected.namespace,
        labels: expected.labels,
        driver_version: "535.129.03",
        ts_type: "DateTime64(3, 'UTC')",
        value_type: "Float64",
      },
    ]);

    const letters = (await readTopic(broker.url, deadLetterTopic)).map(
      (entry) => JSON.parse(new TextDecoder().decode(entry.value)) as Record<string, unknown>,
    );
    expect(letters.map((letter) => letter.reason).sort()).toEqual([
      "missing_uuid",
      "non_numeric_value",
      "undecodable",
      "unknown_shape",
    ]);
    for (const letter of letters) {
      expect(letter.topic).toBe(topic);
      expect(typeof letter.offset).toBe("number");
      expect(typeof letter.partition).toBe("number");
    }
    const undecodable = letters.find((letter) => letter.reason === "undecodable")!;
    expect(undecodable).toMatchObject({ valueEncoding: "base64", value: Buffer.from(truncated).toString("base64") });
    expect(letters.find((letter) => letter.reason === "missing_uuid")).toMatchObject({
      valueEncoding: "utf8",
      value: poison[2]!.value,
    });
    const source = (await readTopic(broker.url, topic)).find((entry) => Buffer.from(entry.value).equals(truncated))!;
    expect({ partition: undecodable.partition, offset: undecodable.offset }).toEqual({
      partition: source.partition,
      offset: source.offset,
    });

    // Rows are visible in ClickHouse a moment before the collector has counted the insert's answer.
    const metricsPage = async () => await (await fetch(`${collector.url}/metrics`)).text();
    await waitUntil(
      async () => metricValue(await metricsPage(), "collector_rows_inserted_total") === good.length,
      async () => `rows inserted ${metricValue(await metricsPage(), "collector_rows_inserted_total")}`,
    );
    const page = await metricsPage();
    expect(page).toContain('collector_dead_letters_total{reason="undecodable"');
    expect(metricValue(page, "collector_rows_inserted_total")).toBe(good.length);
    expect(page).toContain("collector_insert_batch_rows_bucket");
    expect(page).toContain("collector_insert_duration_seconds_bucket");
    expect(page).toContain("collector_lag_records{");
    expect(metricValue(page, "collector_assigned_partitions")).toBe(3);
    expect((await fetch(`${collector.url}/ready`)).status).toBe(200);
    expect((await fetch(`${collector.url}/health`)).status).toBe(200);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
  const committed = await committedOffsets(broker.url, "pipeline", topic);
  const info = (await (await brokerFetch(`${broker.url}/v1/topics/${topic}`)).json()) as {
    partitions: Array<{ partition: number; highWatermark: number }>;
  };
  for (const entry of info.partitions) expect(committed.get(entry.partition)).toBe(entry.highWatermark);
  expect(collector.logs().some((line) => line.includes('"left the group"'))).toBe(true);
}, 60_000);

test("a caught-up partition inserts at most about once per linger, however often records trickle in", async () => {
  const topic = "telemetry-linger";
  await createTopic(broker.url, topic, 1);
  const collector = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database: "linger",
    env: {
      COLLECTOR_TOPIC: topic,
      COLLECTOR_GROUP: "linger",
      COLLECTOR_DEAD_LETTER_TOPIC: `${topic}.dlq`,
      COLLECTOR_LINGER_MS: "600",
    },
  });
  const client = clientFor("linger");
  try {
    await waitReady(collector);
    const baseMs = recentBaseMs();
    const bursts = 20;
    for (let burst = 0; burst < bursts; burst++) {
      await produceRecords(broker.url, topic, wireRecords(burst * 10, 10, baseMs));
      await Bun.sleep(100);
    }
    await waitUntil(
      async () => (await rowCount(client)) >= bursts * 10,
      async () => `rows ${await rowCount(client)}`,
    );
    const inserts =
      metricValue(await (await fetch(`${collector.url}/metrics`)).text(), "collector_insert_batch_rows_count") ?? 0;
    // ~2.5 s of trickle at one insert per 600 ms is about 5 inserts; without linger it would be ~20.
    expect(inserts).toBeGreaterThanOrEqual(2);
    expect(inserts).toBeLessThanOrEqual(9);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
}, 60_000);
