import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../src/broker-client/admin.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { startCollector, waitReady, waitUntil } from "../services/collector/collector-process.ts";
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

let brokerDir: string;
let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;

beforeAll(async () => {
  brokerDir = await mkdtemp(join(tmpdir(), "exactly-rewind-"));
  [broker, clickhouse] = await Promise.all([
    startBroker({ dataDir: brokerDir, keepDataDir: true }),
    startEmbeddedClickHouse(),
  ]);
});

afterAll(async () => {
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
  await rm(brokerDir, { recursive: true, force: true });
});

function clientFor(database: string): ClickHouseClient {
  return createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: "",
    database,
    requestTimeoutMs: 30_000,
  });
}

/** Until no member of the group is left (a killed collector times out after its session). */
async function waitGroupEmpty(group: string): Promise<void> {
  const admin = new Admin({ brokerUrl: broker.url });
  const members = async () => {
    const described = await admin.describeGroup(group).catch((error: { status?: number }) => {
      if (error.status === 404) return { members: [] };
      throw error;
    });
    return described.members;
  };
  await waitUntil(
    async () => (await members()).length === 0,
    async () => JSON.stringify(await members()),
    15_000,
  );
}

/** What an operator does with the broker stopped: the topic's files are gone (its history too). */
async function deleteTopicFiles(topic: string): Promise<void> {
  await broker.stop();
  const logDir = join(brokerDir, "log");
  for (const name of await readdir(logDir)) {
    if (name === `${topic}.topic.json` || /^(.*)-\d+$/.exec(name)?.[1] === topic) {
      await rm(join(logDir, name), { recursive: true, force: true });
    }
  }
  broker = await startBroker({ dataDir: brokerDir, keepDataDir: true });
}

/**
 * Item 1 of issue 14. A collector inserts grouped ranges of several partitions and dies
 * before committing the last group (an unfinished grouped batch). The group's offsets
 * are then moved back (to 0, into the middle of a batch) and a collector that cuts its
 * ranges differently takes over. Whether it stores anything twice must not depend on
 * the replay rebuilding the first inserts' dedup tokens, which fails in two ways:
 * - the announced ranges are gone (here the intents topic is deleted; a rewind past
 *   the intents' retention is the same), so the replay cuts other ranges;
 * - the ranges are rebuilt but ClickHouse no longer remembers their tokens: a plain
 *   MergeTree keeps the last `non_replicated_deduplication_window` blocks (10,000),
 *   about 17 minutes of a busy table with ten collectors. The window is shrunk here so
 *   the test does not need 10,000 inserts first.
 */
for (const loss of ["announced ranges deleted", "dedup tokens forgotten"] as const) {
  test(`item 1: a rewind after an unfinished grouped batch stores nothing twice (${loss})`, async () => {
    const slug = loss === "announced ranges deleted" ? "a" : "b";
    const topic = `rewind-item1-${slug}`;
    const group = `rewind-item1-${slug}`;
    const database = `rewind_item1_${slug}`;
    await createTopic(broker.url, topic, 4);
    const records = wireRecords(0, 8_000, recentBaseMs());
    await produceRecords(broker.url, topic, records);
    const client = clientFor(database);
    const env = {
      COLLECTOR_TOPIC: topic,
      COLLECTOR_GROUP: group,
      COLLECTOR_SESSION_TIMEOUT_MS: "1000",
      COLLECTOR_INSERTS_IN_FLIGHT_MAX: "1",
    };
    try {
      const dying = await startCollector({
        brokerUrl: broker.url,
        clickhouseUrl: clickhouse.url,
        database,
        // 2,000 records a partition, 3,000 rows an insert: every insert groups two partitions' ranges.
        env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "3000", COLLECTOR_FAULT_EXIT_AFTER_INSERTS: "3" },
      });
      expect(await dying.exited).toBeNull();
      const stored = await rowCount(client);
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(records.length);
      await waitGroupEmpty(group);
      const admin = new Admin({ brokerUrl: broker.url });
      // Back to the start, into the middle of the first grouped insert, and to an early offset.
      await admin.resetGroupOffsets(group, {
        topic,
        offsets: [
          { partition: 0, offset: 0 },
          { partition: 1, offset: 3 },
          { partition: 2, offset: 700 },
          { partition: 3, offset: 0 },
        ],
      });
      if (loss === "announced ranges deleted") await deleteTopicFiles(`${topic}.${group}.intents`);
      else
        await client.command({
          query: "ALTER TABLE datapoints MODIFY SETTING non_replicated_deduplication_window = 1",
        });

      const survivor = await startCollector({
        brokerUrl: broker.url,
        clickhouseUrl: clickhouse.url,
        database,
        env: { ...env, COLLECTOR_BATCH_ROWS_MAX: "700" },
      });
      try {
        await waitReady(survivor);
        await waitUntil(
          async () => (await rowCount(client)) >= records.length,
          async () => `rows ${await rowCount(client)} of ${records.length}`,
        );
        await Bun.sleep(1_000);
        expect(await duplicateCount(client)).toBe(0);
        expect(await rowCount(client)).toBe(records.length);
      } finally {
        expect(await survivor.stop()).toBe(0);
      }
    } finally {
      await client.close();
    }
  }, 90_000);
}
