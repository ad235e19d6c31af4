import { afterEach, describe, expect, test } from "bun:test";
import { Admin } from "../../../src/broker-client/admin.ts";
import { type ConsumedBatch, Consumer } from "../../../src/broker-client/consumer.ts";
import { Producer } from "../../../src/broker-client/producer.ts";
import { startTestBroker, type TestBroker } from "../../brokers/server/test-broker.ts";
import { brokerFetch, testBrokerToken } from "../../support/test-tokens.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const decoder = new TextDecoder();

/** Records every value each member handled, to check coverage and duplicates. */
function recordingConsumer(
  url: string,
  name: string,
  seen: Map<string, string[]>,
  extra: Partial<ConstructorParameters<typeof Consumer>[0]> = {},
) {
  const consumer = new Consumer({
    brokerUrl: url,
    token: testBrokerToken,
    group: "collectors",
    topics: ["telemetry"],
    clientId: name,
    sessionTimeoutMs: 3_000,
    fetchWaitMs: 200,
    autoCommitIntervalMs: 100,
    eachBatch: (batch: ConsumedBatch) => {
      for (const record of batch.records) {
        const value = decoder.decode(record.value);
        seen.set(value, [...(seen.get(value) ?? []), name]);
      }
    },
    ...extra,
  });
  cleanups.push(() => consumer.close());
  return consumer;
}

async function produceRange(url: string, from: number, to: number): Promise<void> {
  const producer = await Producer.create({ brokerUrl: url, token: testBrokerToken, topic: "telemetry", lingerMs: 2 });
  for (let n = from; n < to; n += 1) await producer.send({ key: `GPU-${n % 247}`, value: `r${n}` });
  await producer.close();
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("Consumer group end to end", () => {
  let broker: TestBroker;

  test("two members share 12 partitions, a third joins, every record is handled once, commits resume after restart", async () => {
    broker = await startTestBroker({ BROKER_GROUP_EVICTION_CHECK_MS: "100" });
    cleanups.push(() => broker.cleanup());
    const url = broker.url;
    await new Admin({ brokerUrl: url, token: testBrokerToken }).createTopic("telemetry", 12);
    const seen = new Map<string, string[]>();
    const first = recordingConsumer(url, "first", seen);
    const second = recordingConsumer(url, "second", seen);
    await first.start();
    await second.start();
    await waitFor(
      () => first.assigned().length + second.assigned().length === 12 && first.assigned().length === 6,
      10_000,
      "6 + 6 partitions",
    );

    await produceRange(url, 0, 3_000);
    const third = recordingConsumer(url, "third", seen);
    await third.start();
    // Records keep coming while partitions move from the first two members to the third.
    await produceRange(url, 3_000, 5_000);
    await waitFor(() => third.assigned().length === 4 && first.assigned().length === 4, 10_000, "4 + 4 + 4 partitions");
    await produceRange(url, 5_000, 6_000);
    await waitFor(() => seen.size === 6_000, 10_000, "all 6,000 records");
    const handledBy = new Set([...seen.values()].flat());
    expect(handledBy).toEqual(new Set(["first", "second", "third"]));
    const doubles = [...seen.values()].filter((names) => names.length > 1).length;
    expect(doubles).toBe(0);

    await third.close();
    await second.close();
    await first.close();
    const lag = await new Admin({ brokerUrl: url, token: testBrokerToken }).describeGroup("collectors");
    expect(lag.lag.totalLag).toBe(0);
    expect(lag.offsets.reduce((sum, entry) => sum + entry.offset, 0)).toBe(6_000);

    // Restart the broker on the same data: the group resumes at its committed offsets.
    await broker.stop();
    broker = await startTestBroker({}, broker.dataDir);
    cleanups.push(() => broker.cleanup());
    await produceRange(broker.url, 6_000, 6_500);
    const afterRestart = new Map<string, string[]>();
    const resumed = recordingConsumer(broker.url, "resumed", afterRestart);
    await resumed.start();
    await waitFor(() => afterRestart.size === 500, 10_000, "the 500 new records");
    await Bun.sleep(300);
    expect([...afterRestart.keys()].every((value) => Number(value.slice(1)) >= 6_000)).toBe(true);
    expect(afterRestart.size).toBe(500);
  }, 40_000);

  test("a handler failure is retried; the offset advances only after it succeeds", async () => {
    broker = await startTestBroker();
    cleanups.push(() => broker.cleanup());
    await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic("telemetry", 1);
    await produceRange(broker.url, 0, 10);
    let calls = 0;
    const handled: string[] = [];
    const consumer = new Consumer({
      brokerUrl: broker.url,
      token: testBrokerToken,
      group: "flaky",
      topics: ["telemetry"],
      fetchWaitMs: 100,
      autoCommitIntervalMs: 0,
      backoff: { backoffMsMin: 5, backoffMsMax: 20 },
      eachBatch: (batch) => {
        calls += 1;
        if (calls <= 2) throw new Error("insert failed");
        for (const record of batch.records) handled.push(decoder.decode(record.value));
      },
    });
    cleanups.push(() => consumer.close());
    await consumer.start();
    await waitFor(() => handled.length === 10, 5_000, "records after two failures");
    await consumer.commit();
    const offsets = (await (await brokerFetch(`${broker.url}/v1/groups/flaky/offsets?topic=telemetry`)).json()) as {
      offsets: Array<{ offset: number }>;
    };
    expect(offsets.offsets).toEqual([{ partition: 0, offset: 10 } as never]);
    expect(calls).toBe(3);
  });

  test("a member removed from the group (410 on heartbeat) rejoins and carries on", async () => {
    broker = await startTestBroker();
    cleanups.push(() => broker.cleanup());
    await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic("telemetry", 2);
    await produceRange(broker.url, 0, 100);
    const seen = new Map<string, string[]>();
    const consumer = recordingConsumer(broker.url, "kicked", seen, { sessionTimeoutMs: 1_500 });
    await consumer.start();
    await waitFor(() => seen.size === 100, 5_000, "the first 100 records");
    await consumer.commit();
    const firstId = consumer.id;
    // An operator (or the coordinator after a session timeout) takes the member out.
    await brokerFetch(`${broker.url}/v1/groups/collectors/leave`, {
      method: "POST",
      body: JSON.stringify({ memberId: firstId }),
      headers: { "content-type": "application/json" },
    });
    await waitFor(() => consumer.id !== undefined && consumer.id !== firstId, 5_000, "a rejoin under a new member id");
    await waitFor(() => consumer.assigned().length === 2, 5_000, "both partitions again");
    await produceRange(broker.url, 100, 200);
    await waitFor(() => seen.size === 200, 10_000, "the next 100 records after rejoining");
    expect(consumer.assigned()).toEqual(["telemetry/0", "telemetry/1"]);
  });

  test("a new group with resetPolicy latest skips what is already there", async () => {
    broker = await startTestBroker();
    cleanups.push(() => broker.cleanup());
    await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic("telemetry", 2);
    await produceRange(broker.url, 0, 100);
    const seen = new Map<string, string[]>();
    const consumer = recordingConsumer(broker.url, "late", seen, { resetPolicy: "latest" });
    await consumer.start();
    await waitFor(() => consumer.assigned().length === 2, 5_000, "assignment");
    await Bun.sleep(200);
    await produceRange(broker.url, 100, 150);
    await waitFor(() => seen.size === 50, 5_000, "the 50 new records");
    expect([...seen.keys()].every((value) => Number(value.slice(1)) >= 100)).toBe(true);
  });
});
