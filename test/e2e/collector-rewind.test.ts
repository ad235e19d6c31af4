import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../src/broker-client/admin.ts";
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
import { testBrokerToken } from "../support/test-tokens.ts";

/** Silent members are looked for often, so a killed collector's partitions free up soon after its session. */
const brokerEnv = { BROKER_GROUP_EVICTION_CHECK_MS: "100" };
let brokerDir: string;
let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;

beforeAll(async () => {
  brokerDir = await mkdtemp(join(tmpdir(), "exactly-rewind-"));
  [broker, clickhouse] = await Promise.all([
    startBroker({ dataDir: brokerDir, keepDataDir: true, env: brokerEnv }),
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
    password: clickhouse.password,
    database,
    requestTimeoutMs: 30_000,
  });
}

/** Until no member of the group is left (a killed collector times out after its session). */
async function waitGroupEmpty(group: string): Promise<void> {
  const admin = new Admin({ brokerUrl: broker.url, token: testBrokerToken });
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
  broker = await startBroker({ dataDir: brokerDir, keepDataDir: true, env: brokerEnv });
}

/**
 * Item 1 of issue 14. A collector stores and commits the first records of every
 * partition; records keep coming, and a second collector inserts grouped ranges of
 * them and dies before committing the last group (an unfinished grouped batch). The
 * group's offsets are then moved back (to 0, into the middle of a batch, to an early
 * offset) and a collector that cuts its ranges differently takes over. Whether it
 * stores anything twice must not depend on a replay rebuilding the first inserts'
 * dedup tokens, which fails in two ways:
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
    const baseMs = recentBaseMs();
    await produceRecords(broker.url, topic, wireRecords(0, 4_000, baseMs));
    const client = clientFor(database);
    const env = {
      COLLECTOR_TOPIC: topic,
      COLLECTOR_GROUP: group,
      COLLECTOR_SESSION_TIMEOUT_MS: "1000",
      COLLECTOR_INSERTS_IN_FLIGHT_MAX: "1",
    };
    const started: CollectorProcess[] = [];
    const collector = async (extra: Record<string, string>) => {
      const child = await startCollector({
        brokerUrl: broker.url,
        clickhouseUrl: clickhouse.url,
        clickhousePassword: clickhouse.password,
        database,
        env: { ...env, ...extra },
      });
      started.push(child);
      return child;
    };
    try {
      const first = await collector({ COLLECTOR_BATCH_ROWS_MAX: "400" });
      await waitUntil(
        async () => (await rowCount(client).catch(() => 0)) === 4_000,
        async () => `rows ${await rowCount(client).catch(() => 0)} of 4000`,
      );
      expect(await first.stop()).toBe(0);
      await produceRecords(broker.url, topic, wireRecords(4_000, 8_000, baseMs));
      // 2,000 new records a partition, 3,000 rows an insert: inserts group two partitions' ranges.
      const dying = await collector({ COLLECTOR_BATCH_ROWS_MAX: "3000", COLLECTOR_FAULT_EXIT_AFTER_INSERTS: "3" });
      expect(await dying.exited).toBeNull();
      const stored = await rowCount(client);
      expect(stored).toBeGreaterThan(4_000);
      expect(stored).toBeLessThan(12_000);
      await waitGroupEmpty(group);
      // Back to the start, into the middle of an insert, to an early offset; each below the commit (about 1,000).
      await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).resetGroupOffsets(group, {
        topic,
        offsets: [0, 3, 700, 0].map((offset, partition) => ({ partition, offset })),
      });
      if (loss === "announced ranges deleted") await deleteTopicFiles(`${topic}.${group}.intents`);
      else
        await client.command({
          query: "ALTER TABLE datapoints MODIFY SETTING non_replicated_deduplication_window = 1",
        });

      const survivor = await collector({ COLLECTOR_BATCH_ROWS_MAX: "700" });
      try {
        await waitReady(survivor);
        await waitUntil(
          async () => (await rowCount(client)) >= 12_000,
          async () => `rows ${await rowCount(client)} of 12000; ${await sourcesByPartition(client)}`,
        );
        await Bun.sleep(1_000);
        expect(await duplicateCount(client)).toBe(0);
        expect(await rowCount(client)).toBe(12_000);
      } finally {
        expect(await survivor.stop()).toBe(0);
      }
    } finally {
      // Also when the test failed: no collector outlives it.
      await Promise.all(started.map((child) => child.stop()));
      await client.close();
    }
  }, 90_000);
}

/** Distinct (src_partition, src_offset) pairs stored: equals the row count when no record is stored twice. */
async function distinctSources(client: ClickHouseClient): Promise<number> {
  const result = await client.query({
    query: "SELECT uniqExact(src_partition, src_offset) AS n FROM datapoints",
    format: "JSONEachRow",
  });
  return Number((await result.json<{ n: string | number }>())[0]?.n ?? 0);
}

/** Per partition: rows, distinct offsets, lowest and highest offset (for failure messages). */
async function sourcesByPartition(client: ClickHouseClient): Promise<string> {
  const result = await client.query({
    query: `SELECT src_partition, count() AS rows, uniqExact(src_offset) AS offsets, min(src_offset) AS first,
  max(src_offset) AS last FROM datapoints GROUP BY src_partition ORDER BY src_partition`,
    format: "JSONEachRow",
  });
  return JSON.stringify(await result.json());
}

/** Keeps producing unique records until stopped; resolves with how many it produced. */
function steadyProducer(topic: string, signal: AbortSignal): Promise<number> {
  return (async () => {
    const baseMs = recentBaseMs();
    let produced = 0;
    while (!signal.aborted) {
      await produceRecords(broker.url, topic, wireRecords(produced, 100, baseMs));
      produced += 100;
      await Bun.sleep(50);
    }
    return produced;
  })();
}

/**
 * The collectors are stopped (killed or terminated) and restarted a dozen times while
 * records keep arriving; before each restart the group's offsets move back to a random
 * choice per partition: 0, anywhere before the committed offset (often inside a
 * batch), or a little before it (an old commit). Each start cuts ranges of another size.
 */
test("rewinds to random offsets, many times, under load: nothing stored twice, nothing lost", async () => {
  const topic = "rewind-random";
  const group = "rewind-random";
  const database = "rewind_random";
  const partitions = 4;
  await createTopic(broker.url, topic, partitions);
  const client = clientFor(database);
  const admin = new Admin({ brokerUrl: broker.url, token: testBrokerToken });
  const stopProducing = new AbortController();
  const producing = steadyProducer(topic, stopProducing.signal);
  const rowsMaxChoices = ["150", "400", "1000"];
  const start = (round: number, index: number) =>
    startCollector({
      brokerUrl: broker.url,
      clickhouseUrl: clickhouse.url,
      clickhousePassword: clickhouse.password,
      database,
      env: {
        COLLECTOR_TOPIC: topic,
        COLLECTOR_GROUP: group,
        COLLECTOR_SESSION_TIMEOUT_MS: "1000",
        COLLECTOR_LINGER_MS: "50",
        COLLECTOR_BATCH_ROWS_MAX: rowsMaxChoices[(round + index) % rowsMaxChoices.length]!,
      },
    });
  let rewinds = 0;
  let collectors: CollectorProcess[] = [];
  try {
    collectors = await Promise.all([0, 1].map((index) => start(0, index)));
    for (let round = 1; round <= 12; round += 1) {
      await Bun.sleep(300 + Math.random() * 900);
      const signal = round % 3 === 0 ? "SIGTERM" : "SIGKILL";
      for (const collector of collectors) collector.kill(signal);
      await Promise.all(collectors.map((collector) => collector.exited));
      await waitGroupEmpty(group);
      const info = await admin.describeTopic(topic);
      const committed = new Map(
        (
          await admin.describeGroup(group).catch(() => ({ offsets: [] as { partition: number; offset: number }[] }))
        ).offsets.map((entry) => [entry.partition, entry.offset]),
      );
      // Never forward: past the committed offset lie records no collector may have stored.
      const offsets = info.partitions.map(({ partition }) => {
        const choice = Math.floor(Math.random() * 3);
        const previous = committed.get(partition) ?? 0;
        const offset =
          choice === 0
            ? 0
            : choice === 1
              ? Math.floor(Math.random() * (previous + 1))
              : Math.max(0, previous - Math.floor(Math.random() * 500));
        return { partition, offset };
      });
      await admin.resetGroupOffsets(group, { topic, offsets });
      rewinds += offsets.length;
      collectors = await Promise.all([0, 1].map((index) => start(round, index)));
    }
    stopProducing.abort();
    const produced = await producing;
    await waitUntil(
      async () => (await rowCount(client)) >= produced,
      async () => `rows ${await rowCount(client)} of ${produced}; ${await sourcesByPartition(client)}`,
      30_000,
    );
    await Bun.sleep(1_000);
    expect(rewinds).toBe(12 * partitions);
    expect(await duplicateCount(client)).toBe(0);
    expect(await rowCount(client)).toBe(produced);
    expect(await distinctSources(client)).toBe(produced);
    for (const collector of collectors) expect(await collector.stop()).toBe(0);
  } finally {
    stopProducing.abort();
    await producing;
    // Also when the test failed: no collector outlives it.
    await Promise.all(collectors.map((collector) => collector.stop()));
    await client.close();
  }
}, 180_000);
