import { afterAll, expect, test } from "bun:test";
import { appendFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { dataViewOf, encodeBatch, stampBaseOffset } from "../../src/broker-protocol/record-batch.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { startCollector, waitReady, waitUntil } from "../services/collector/collector-process.ts";
import {
  committedOffsets,
  createTopic,
  produceRecords,
  readTopic,
  recentBaseMs,
  rowCount,
  wireRecords,
} from "../services/collector/telemetry-fixture.ts";
import { recordStart, reseal } from "../support/batch-surgery.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { brokerFetch } from "../support/test-tokens.ts";

/**
 * A batch that passes the CRC but cannot be decoded, written straight into a real
 * broker's log (as one stored before the broker checked records, or damaged behind a
 * valid CRC would be): the collector dead-letters it whole and the partition moves on.
 */
const topic = "poisoned";
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Three records whose middle one claims more bytes than the batch has; CRC recomputed. */
function poisonBatch(baseOffset: number, timestampMs: number): Uint8Array {
  const records = [0, 1, 2].map((index) => ({ key: `GPU-poison-${index}`, value: "x".repeat(20), timestampMs }));
  const batch = encodeBatch({ records, producerId: -1, baseSequence: -1, nowMs: timestampMs });
  dataViewOf(batch).setUint32(recordStart(batch, 1), 10_000, true);
  reseal(batch);
  stampBaseOffset(batch, 0, baseOffset);
  return batch;
}

test("a poisoned batch in the log goes to the dead-letter topic whole; rows after it arrive and lag returns to 0", async () => {
  const baseMs = recentBaseMs();
  let broker: BrokerProcess = await startBroker({ keepDataDir: true });
  const dataDir = broker.dataDir;
  await createTopic(broker.url, topic, 1);
  await produceRecords(broker.url, topic, wireRecords(0, 1_000, baseMs));
  expect(await broker.stop()).toBe(0);

  const partitionDir = join(dataDir, "log", `${topic}-0`);
  const segment = readdirSync(partitionDir)
    .filter((name) => name.endsWith(".log"))
    .sort()
    .at(-1)!;
  appendFileSync(join(partitionDir, segment), poisonBatch(1_000, baseMs));

  broker = await startBroker({ dataDir });
  cleanup.push(() => broker.stop());
  const info = (await (await brokerFetch(`${broker.url}/v1/topics/${topic}`)).json()) as {
    partitions: Array<{ highWatermark: number }>;
  };
  expect(info.partitions[0]!.highWatermark).toBe(1_003);
  await produceRecords(broker.url, topic, wireRecords(1_000, 500, baseMs));

  const clickhouse: EmbeddedClickHouse = await startEmbeddedClickHouse();
  cleanup.push(() => clickhouse.stop());
  const client: ClickHouseClient = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database: "poisoned",
    requestTimeoutMs: 30_000,
  });
  cleanup.push(() => client.close());
  const collector = await startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database: "poisoned",
    env: { COLLECTOR_TOPIC: topic, COLLECTOR_GROUP: "poisoned", COLLECTOR_DEAD_LETTER_TOPIC: `${topic}.dlq` },
  });
  try {
    await waitReady(collector);
    await waitUntil(
      async () => (await rowCount(client).catch(() => 0)) >= 1_500,
      async () => `rows ${await rowCount(client).catch(() => -1)}\n${collector.logs().slice(-10).join("\n")}`,
    );
    expect(await rowCount(client)).toBe(1_500);
    await waitUntil(
      async () => (await committedOffsets(broker.url, "poisoned", topic)).get(0) === 1_503,
      async () => `committed ${JSON.stringify([...(await committedOffsets(broker.url, "poisoned", topic))])}`,
    );
    const described = (await (await brokerFetch(`${broker.url}/v1/groups/poisoned`)).json()) as {
      lag: { totalLag: number; partitions: Array<{ topic: string; lag: number }> };
    };
    expect(described.lag.partitions.filter((entry) => entry.topic === topic).map((entry) => entry.lag)).toEqual([0]);

    const letters = (await readTopic(broker.url, `${topic}.dlq`)).map(
      (entry) => JSON.parse(new TextDecoder().decode(entry.value)) as Record<string, unknown>,
    );
    expect(letters).toHaveLength(1);
    const poison = poisonBatch(1_000, baseMs);
    expect(letters[0]).toMatchObject({
      reason: "undecodable_batch",
      topic,
      partition: 0,
      offset: 1_000,
      lastOffset: 1_002,
      batchSizeBytes: poison.byteLength,
      truncated: false,
      valueEncoding: "base64",
      value: Buffer.from(poison).toString("base64"),
    });
    expect(String(letters[0]!.detail)).toContain("record 1: length 10000 runs past the batch end");
    expect(collector.logs().some((line) => line.includes("consumer error (recovering)"))).toBe(false);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
}, 90_000);
