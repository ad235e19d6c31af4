import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
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

let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;

beforeAll(async () => {
  [broker, clickhouse] = await Promise.all([startBroker(), startEmbeddedClickHouse()]);
  client = createClickHouse({ url: clickhouse.url, username: "default", password: "", database: "crash", requestTimeoutMs: 30_000 });
});

afterAll(async () => {
  await client?.close();
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
});

/**
 * COLLECTOR_FAULT_EXIT_AFTER_INSERTS makes the process SIGKILL itself right after an insert
 * succeeded and before its offsets are committed: the window where a replay would
 * duplicate rows. The next collector even cuts batches differently (another row
 * maximum); the announced ranges still make it re-insert exactly what was inserted.
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
    database: "crash",
    env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "1000" },
  });
  try {
    await waitReady(survivor);
    await waitUntil(async () => (await rowCount(client)) >= records.length, async () => `rows ${await rowCount(client)}`);
    await Bun.sleep(500);
    expect(await rowCount(client)).toBe(records.length);
    expect(await duplicateCount(client)).toBe(0);
    expect(survivor.logs().some((line) => line.includes("re-inserting its announced ranges"))).toBe(true);
  } finally {
    expect(await survivor.stop()).toBe(0);
  }
}, 60_000);
