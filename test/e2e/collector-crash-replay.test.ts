import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { startCollector, waitReady, waitUntil } from "../services/collector/collector-process.ts";
import {
  committedOffsets,
  createTopic,
  duplicateCount,
  produceRecords,
  recentBaseMs,
  rowCount,
  wireRecords,
} from "../services/collector/telemetry-fixture.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";

let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;

beforeAll(async () => {
  [broker, clickhouse] = await Promise.all([startBroker(), startEmbeddedClickHouse()]);
  client = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database: "crash",
    requestTimeoutMs: 30_000,
  });
});

afterAll(async () => {
  await client?.close();
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
});

/**
 * COLLECTOR_FAULT_EXIT_AFTER_INSERTS makes the process SIGKILL itself right after an insert
 * succeeded and before its offsets are committed: the window where a replay would
 * duplicate rows. The next collector even cuts batches differently (another row
 * maximum); it asks ClickHouse which offsets are stored and inserts only the rest.
 */
test("a collector dying between insert and commit causes no duplicate and no loss", async () => {
  const topic = "telemetry-crash";
  await createTopic(broker.url, topic, 2);
  const records = wireRecords(0, 6_000, recentBaseMs());
  await produceRecords(broker.url, topic, records);
  const env = { COLLECTOR_TOPIC: topic, COLLECTOR_GROUP: "crash", COLLECTOR_SESSION_TIMEOUT_MS: "1000" };

  const dying = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database: "crash",
    env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "400", COLLECTOR_FAULT_EXIT_AFTER_INSERTS: "3" },
  });
  expect(await dying.exited).toBeNull();
  expect(dying.logs().some((line) => line.includes("fault injection: killing this process"))).toBe(true);
  const inserted = await rowCount(client);
  expect(inserted).toBeGreaterThanOrEqual(1_200);
  expect(inserted).toBeLessThan(records.length);
  expect((await committedOffsets(broker.url, "crash", topic)).size).toBe(0);

  const survivor = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database: "crash",
    env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "1000" },
  });
  try {
    await waitReady(survivor);
    await waitUntil(
      async () => (await rowCount(client)) >= records.length,
      async () => `rows ${await rowCount(client)}`,
    );
    await Bun.sleep(500);
    expect(await rowCount(client)).toBe(records.length);
    expect(await duplicateCount(client)).toBe(0);
    expect(survivor.logs().some((line) => line.includes("inserting only the missing ones"))).toBe(true);
    expect(survivor.logs().some((line) => line.includes("skipped rows ClickHouse already holds"))).toBe(true);
  } finally {
    expect(await survivor.stop()).toBe(0);
  }
}, 60_000);

/**
 * Ranges of several partitions share one insert (insert-coalescer.ts). After a crash
 * between that insert and the commit, the partitions go to different collectors, each
 * cutting its own ranges; each skips the offsets of its partitions that the group
 * insert stored.
 */
test("a grouped insert replayed by two new owners is stored once", async () => {
  const topic = "telemetry-crash-groups";
  await createTopic(broker.url, topic, 4);
  const records = wireRecords(0, 8_000, recentBaseMs());
  await produceRecords(broker.url, topic, records);
  const database = "crash_groups";
  const groupClient = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database,
    requestTimeoutMs: 30_000,
  });
  const env = {
    COLLECTOR_TOPIC: topic,
    COLLECTOR_GROUP: "crash-groups",
    COLLECTOR_SESSION_TIMEOUT_MS: "1000",
    COLLECTOR_INSERTS_IN_FLIGHT_MAX: "1",
  };
  try {
    const dying = await startCollector({
      brokerUrl: broker.url,
      clickhouseUrl: clickhouse.url,
      clickhousePassword: clickhouse.password,
      database,
      // 2,000 records a partition, 5,000 rows an insert: the first range goes alone, the next two share an insert.
      env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "5000", COLLECTOR_FAULT_EXIT_AFTER_INSERTS: "3" },
    });
    expect(await dying.exited).toBeNull();
    const grouped = await groupClient.query({
      query: "SELECT uniqExact(src_partition) AS partitions FROM datapoints GROUP BY _part",
      format: "JSONEachRow",
    });
    const partitionsPerPart = (await grouped.json<{ partitions: number }>()).map((row) => Number(row.partitions));
    expect(Math.max(...partitionsPerPart)).toBeGreaterThan(1);
    expect(await rowCount(groupClient)).toBeLessThan(records.length);

    const survivors = await Promise.all(
      [0, 1].map(() =>
        startCollector({
          brokerUrl: broker.url,
          clickhouseUrl: clickhouse.url,
          clickhousePassword: clickhouse.password,
          database,
          env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "700" },
        }),
      ),
    );
    try {
      await Promise.all(survivors.map((survivor) => waitReady(survivor)));
      await waitUntil(
        async () => (await rowCount(groupClient)) >= records.length,
        async () => `rows ${await rowCount(groupClient)}`,
      );
      await Bun.sleep(500);
      expect(await rowCount(groupClient)).toBe(records.length);
      expect(await duplicateCount(groupClient)).toBe(0);
      const resumed = survivors.filter((survivor) =>
        survivor.logs().some((line) => line.includes("inserting only the missing ones")),
      );
      expect(resumed.length).toBeGreaterThan(0);
    } finally {
      for (const survivor of survivors) expect(await survivor.stop()).toBe(0);
    }
  } finally {
    await groupClient.close();
  }
}, 60_000);
