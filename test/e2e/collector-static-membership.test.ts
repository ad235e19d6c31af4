import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../src/broker-client/admin.ts";
import type { GroupDetail } from "../../src/broker-protocol/group-protocol.ts";
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

let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse;
let client: ClickHouseClient;
const topic = "telemetry-static";
const group = "static-collectors";
const database = "static_members";

beforeAll(async () => {
  [broker, clickhouse] = await Promise.all([startBroker(), startEmbeddedClickHouse()]);
  client = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database,
    requestTimeoutMs: 30_000,
  });
});

afterAll(async () => {
  await client?.close();
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
});

function collector(instance: string): Promise<CollectorProcess> {
  return startCollector({
    brokerUrl: broker.url,
    clickhouseUrl: clickhouse.url,
    clickhousePassword: clickhouse.password,
    database,
    // Default session timeout (2.5 s) and eviction check (250 ms), as deployed.
    env: { COLLECTOR_TOPIC: topic, COLLECTOR_GROUP: group, INSTANCE_ID: instance },
  });
}

const describeGroup = () => new Admin({ brokerUrl: broker.url, token: testBrokerToken }).describeGroup(group);
const partitionsOf = (detail: GroupDetail, instance: string) =>
  detail.members.find((member) => member.instanceId === instance)?.assignment[0]?.partitions ?? [];

/**
 * Static membership (INSTANCE_ID): a collector killed and started again takes its
 * partitions back at once, without a rebalance (the generation does not move); a
 * collector that stays dead loses its partitions within 3 s. Rows land once throughout.
 */
test("a restarted collector takes its partitions back without a rebalance; a dead one loses them within 3 s", async () => {
  await createTopic(broker.url, topic, 4);
  const baseMs = recentBaseMs();
  let produced = 0;
  const produce = async (count: number) => {
    await produceRecords(broker.url, topic, wireRecords(produced, count, baseMs));
    produced += count;
  };
  await produce(2_000);
  const first = await collector("collector-1");
  const second = await collector("collector-2");
  let survivor: CollectorProcess | undefined;
  try {
    await Promise.all([waitReady(first), waitReady(second)]);
    await waitUntil(
      async () =>
        (await describeGroup()).state === "stable" && partitionsOf(await describeGroup(), "collector-2").length === 2,
      async () => JSON.stringify((await describeGroup()).members),
    );
    const before = await describeGroup();
    first.kill("SIGKILL");
    await first.exited;
    survivor = await collector("collector-1");
    await waitReady(survivor);
    const after = await describeGroup();
    expect(after.generation).toBe(before.generation);
    expect(partitionsOf(after, "collector-1")).toEqual(partitionsOf(before, "collector-1"));
    expect(after.members.map((member) => member.memberId)).not.toContain(
      before.members.find((member) => member.instanceId === "collector-1")?.memberId,
    );
    await produce(2_000);

    second.kill("SIGKILL");
    const killedMs = performance.now();
    await waitUntil(
      async () => (await describeGroup()).members.length === 1,
      async () => JSON.stringify((await describeGroup()).members),
      10_000,
    );
    expect(performance.now() - killedMs).toBeLessThan(3_000);
    await waitUntil(
      async () => partitionsOf(await describeGroup(), "collector-1").length === 4,
      async () => JSON.stringify((await describeGroup()).members),
    );
    await produce(2_000);
    await waitUntil(
      async () => (await rowCount(client)) >= produced,
      async () => `rows ${await rowCount(client)} of ${produced}`,
    );
    await Bun.sleep(500);
    expect(await rowCount(client)).toBe(produced);
    expect(await duplicateCount(client)).toBe(0);
  } finally {
    for (const process of [first, second, survivor]) await process?.stop();
  }
}, 90_000);
