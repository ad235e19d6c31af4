import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import {
  type CollectorProcess,
  startCollector,
  waitReady,
  waitUntil,
} from "../services/collector/collector-process.ts";
import {
  createTopic,
  duplicateCount,
  produceRecords,
  recentBaseMs,
  rowCount,
  wireRecords,
} from "../services/collector/telemetry-fixture.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { metricValue } from "../support/prometheus.ts";

let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;

beforeAll(async () => {
  [broker, clickhouse] = await Promise.all([startBroker(), startEmbeddedClickHouse()]);
  client = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database: "rebalance",
    requestTimeoutMs: 30_000,
  });
});

afterAll(async () => {
  await client?.close();
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
});

async function assignedOf(collector: CollectorProcess): Promise<number> {
  return metricValue(await (await fetch(`${collector.url}/metrics`)).text(), "collector_assigned_partitions") ?? -1;
}

test("two collectors share the partitions, a third joining takes some, every row lands once", async () => {
  const topic = "telemetry-rebalance";
  const partitions = 6;
  await createTopic(broker.url, topic, partitions);
  const baseMs = recentBaseMs();
  const start = (name: string) =>
    startCollector({
      brokerUrl: broker.url,
      clickhouseUrl: clickhouse.url,
      clickhousePassword: clickhouse.password,
      database: "rebalance",
      env: {
        COLLECTOR_TOPIC: topic,
        COLLECTOR_GROUP: "rebalance",
        INSTANCE_ID: name,
        COLLECTOR_BATCH_ROWS_MAX: "300",
        COLLECTOR_SESSION_TIMEOUT_MS: "3000",
      },
    });
  const collectors = [await start("first"), await start("second")];
  try {
    await Promise.all(collectors.map((collector) => waitReady(collector)));
    await produceRecords(broker.url, topic, wireRecords(0, 4_000, baseMs));
    await waitUntil(
      async () => (await assignedOf(collectors[0]!)) > 0 && (await assignedOf(collectors[1]!)) > 0,
      async () => `assigned ${await assignedOf(collectors[0]!)} / ${await assignedOf(collectors[1]!)}`,
    );

    const producing = produceRecords(broker.url, topic, wireRecords(4_000, 4_000, baseMs));
    collectors.push(await start("third"));
    await producing;
    await waitReady(collectors[2]!);
    await waitUntil(
      async () => {
        const counts = await Promise.all(collectors.map(assignedOf));
        return counts.every((count) => count > 0) && counts.reduce((sum, count) => sum + count, 0) === partitions;
      },
      async () => `assigned ${(await Promise.all(collectors.map(assignedOf))).join(" / ")}`,
    );
    await produceRecords(broker.url, topic, wireRecords(8_000, 2_000, baseMs));

    await waitUntil(
      async () => (await rowCount(client)) >= 10_000,
      async () => `rows ${await rowCount(client)}`,
    );
    await Bun.sleep(500);
    expect(await rowCount(client)).toBe(10_000);
    expect(await duplicateCount(client)).toBe(0);
  } finally {
    const codes = await Promise.all(collectors.map((collector) => collector.stop()));
    expect(codes).toEqual([0, 0, 0]);
  }
}, 60_000);
