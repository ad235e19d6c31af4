import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin } from "../../src/broker-client/admin.ts";
import { type ConsumedBatch, Consumer } from "../../src/broker-client/consumer.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import type { GroupOffsets } from "../../src/broker-protocol/group-protocol.ts";
import { readAll } from "../src/broker-client/read-all.ts";
import { brokerFetch, testBrokerToken } from "../support/test-tokens.ts";
import { type BrokerProcess, spawnBroker } from "./broker-process.ts";

const dataDir = mkdtempSync(join(tmpdir(), "broker-kill9-"));
const running: BrokerProcess[] = [];
afterAll(() => {
  for (const broker of running) broker.proc.kill(9);
  rmSync(dataDir, { recursive: true, force: true });
});

const env = { BROKER_DATA_DIR: dataDir, BROKER_FLUSH: "always", BROKER_GROUP_SESSION_TIMEOUT_MS: "3000" };

async function committedOffsets(url: string): Promise<Map<number, number>> {
  const body = (await (
    await brokerFetch(`${url}/v1/groups/collectors/offsets?topic=telemetry`)
  ).json()) as GroupOffsets;
  return new Map(body.offsets.map((entry) => [entry.partition, entry.offset]));
}

/** Produces without waiting for each ack; collects the values the broker acknowledged. */
function produceUnderLoad(producer: Producer, acked: Set<string>, stop: { now: boolean }): Promise<number> {
  return (async () => {
    let sent = 0;
    while (!stop.now) {
      const value = `r${sent}`;
      producer.sendAndWait({ key: `GPU-${sent % 247}`, value }).then(
        () => acked.add(value),
        () => undefined,
      );
      sent += 1;
      if (sent % 200 === 0) await Bun.sleep(1);
    }
    return sent;
  })();
}

test("kill -9 under load: every acknowledged record survives and the group resumes at its commits", async () => {
  const first = await spawnBroker(env);
  running.push(first);
  await new Admin({ brokerUrl: first.url, token: testBrokerToken }).createTopic("telemetry", 12);

  // Phase 1: a consumer group consumes and commits while records stream in.
  const consumed = new Set<string>();
  const consumer = new Consumer({
    brokerUrl: first.url,
    token: testBrokerToken,
    group: "collectors",
    topics: ["telemetry"],
    fetchWaitMs: 100,
    autoCommitIntervalMs: 50,
    eachBatch: (batch: ConsumedBatch) => {
      for (const record of batch.records) consumed.add(new TextDecoder().decode(record.value));
    },
  });
  await consumer.start();
  const acked = new Set<string>();
  const producer = await Producer.create({
    brokerUrl: first.url,
    token: testBrokerToken,
    topic: "telemetry",
    lingerMs: 2,
    batchBytesMax: 16 * 1024,
    deliveryTimeoutMs: 3_000,
    backoff: { backoffMsMin: 10, backoffMsMax: 50 },
  });
  const stop = { now: false };
  const producing = produceUnderLoad(producer, acked, stop);
  await Bun.sleep(700);
  await consumer.close();
  const committedBeforeKill = await committedOffsets(first.url);
  expect(committedBeforeKill.size).toBeGreaterThan(0);

  // Phase 2: more load, then kill -9 in the middle of it.
  await Bun.sleep(500);
  first.proc.kill(9);
  await first.proc.exited;
  stop.now = true;
  const sent = await producing;
  await producer.close().catch(() => undefined);
  expect(acked.size).toBeGreaterThan(1_000);
  expect(acked.size).toBeLessThanOrEqual(sent);

  // Restart on the same data directory.
  const second = await spawnBroker(env);
  running.push(second);
  const stored = await readAll(second.url, "telemetry");
  const storedValues = new Set(stored.map((record) => record.value));
  const missing = [...acked].filter((value) => !storedValues.has(value));
  expect(missing).toEqual([]);
  for (const [partition, records] of Map.groupBy(stored, (record) => record.partition)) {
    for (const [index, record] of records.entries()) expect(record.offset).toBe(index);
    expect(partition).toBeLessThan(12);
  }

  // The group's commits survived, and a new member resumes exactly there.
  const committedAfter = await committedOffsets(second.url);
  expect(committedAfter).toEqual(committedBeforeKill);
  const firstOffsets = new Map<number, number>();
  const resumed = new Consumer({
    brokerUrl: second.url,
    token: testBrokerToken,
    group: "collectors",
    topics: ["telemetry"],
    fetchWaitMs: 100,
    eachBatch: (batch) => {
      if (!firstOffsets.has(batch.partition)) firstOffsets.set(batch.partition, batch.firstOffset);
    },
  });
  await resumed.start();
  const deadline = performance.now() + 10_000;
  while (firstOffsets.size < committedAfter.size && performance.now() < deadline) await Bun.sleep(20);
  await resumed.close();
  for (const [partition, offset] of committedAfter) {
    const highWatermark = stored.filter((record) => record.partition === partition).length;
    if (offset < highWatermark) expect(firstOffsets.get(partition)).toBe(offset);
  }
  expect(consumed.size).toBeGreaterThan(0);
  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);
}, 60_000);
