import { afterEach, describe, expect, test } from "bun:test";
import { type BatchAck, Producer, ProducerError } from "../../../src/broker-client/producer.ts";
import { partitionForKey } from "../../../src/broker-protocol/partitioner.ts";
import { encodeProduceFrames } from "../../../src/broker-protocol/produce-frames.ts";
import { encodeBatch } from "../../../src/broker-protocol/record-batch.ts";
import { startTestBroker, type TestBroker } from "../../brokers/server/test-broker.ts";
import { brokerFetch, testBrokerToken } from "../../support/test-tokens.ts";
import { readAll } from "./read-all.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function broker(env: Record<string, string> = {}): Promise<TestBroker> {
  const started = await startTestBroker(env);
  cleanups.push(() => started.cleanup());
  return started;
}

async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  const response = await brokerFetch(`${url}/v1/topics`, {
    method: "POST",
    body: JSON.stringify({ name, partitions }),
    headers: { "content-type": "application/json" },
  });
  if (response.status !== 201) throw new Error(`create topic: ${response.status}`);
}

/** Values "key:n" with n counting up per key, so order per key can be checked. */
function keyedRecords(keyCount: number, perKey: number) {
  const records = [];
  for (let n = 0; n < perKey; n += 1) {
    for (let k = 0; k < keyCount; k += 1) records.push({ key: `GPU-${k}`, value: `GPU-${k}:${n}` });
  }
  return records;
}

function assertEachKeyInOrderOnce(
  read: Awaited<ReturnType<typeof readAll>>,
  keyCount: number,
  perKey: number,
  partitions: number,
) {
  const seen = new Map<string, number>();
  for (const record of read) {
    expect(record.partition).toBe(partitionForKey(record.key, partitions));
    const n = Number(record.value.split(":")[1]);
    expect(n).toBe(seen.get(record.key) ?? 0);
    seen.set(record.key, n + 1);
  }
  expect(seen.size).toBe(keyCount);
  for (const count of seen.values()) expect(count).toBe(perKey);
}

interface ProxySockets {
  upstream?: import("bun").Socket<undefined>;
  pending: Uint8Array[];
  dropAnswer: boolean;
}

/** TCP proxy to the broker that loses the first produce answer by closing the client's connection. */
function startLossyProxy(brokerPort: string) {
  let lost = 0;
  const listener = Bun.listen<ProxySockets>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { pending: [], dropAnswer: false };
        void Bun.connect({
          hostname: "127.0.0.1",
          port: Number(brokerPort),
          socket: {
            data(_upstream, chunk) {
              if (client.data.dropAnswer) {
                lost += 1;
                client.terminate();
                return;
              }
              client.write(chunk);
            },
            close() {
              client.end();
            },
          },
        }).then((upstream) => {
          client.data.upstream = upstream;
          for (const chunk of client.data.pending) upstream.write(chunk);
          client.data.pending = [];
        });
      },
      data(client, chunk) {
        if (lost === 0 && new TextDecoder().decode(chunk.subarray(0, 80)).includes("/produce HTTP"))
          client.data.dropAnswer = true;
        if (client.data.upstream === undefined) client.data.pending.push(new Uint8Array(chunk));
        else client.data.upstream.write(chunk);
      },
      close(client) {
        client.data.upstream?.end();
      },
    },
  });
  return { port: listener.port, lostCount: () => lost, stop: () => listener.stop(true) };
}

describe("Producer", () => {
  test("keeps per-key order across 12 partitions with many small batches in flight", async () => {
    const { url } = await broker();
    await createTopic(url, "ordered", 12);
    const producer = await Producer.create({
      brokerUrl: url,
      token: testBrokerToken,
      topic: "ordered",
      batchBytesMax: 2048,
      lingerMs: 1,
    });
    expect(producer.partitionCount).toBe(12);
    for (const record of keyedRecords(50, 200)) await producer.send(record);
    await producer.close();
    assertEachKeyInOrderOnce(await readAll(url, "ordered"), 50, 200, 12);
  });

  test("a batch whose response was lost is retried and appended once", async () => {
    const { url } = await broker();
    await createTopic(url, "lossy", 4);
    // A real TCP hop in front of the broker that forwards every byte but drops the
    // connection when the answer to the first produce arrives: the broker appended,
    // the producer never heard.
    const proxy = startLossyProxy(new URL(url).port);
    cleanups.push(() => proxy.stop());
    const producer = await Producer.create({
      brokerUrl: `http://127.0.0.1:${proxy.port}`,
      token: testBrokerToken,
      topic: "lossy",
      backoff: { backoffMsMin: 5, backoffMsMax: 20 },
    });
    const acks: BatchAck[] = [];
    for (const record of keyedRecords(8, 25)) void producer.sendAndWait(record).then((ack) => acks.push(ack));
    await producer.close();
    expect(proxy.lostCount()).toBe(1);
    expect(acks.some((ack) => ack.duplicate)).toBe(true);
    assertEachKeyInOrderOnce(await readAll(url, "lossy"), 8, 25, 4);
  });

  test("over the broker's memory watermark it backs off and retries; nothing is lost or doubled", async () => {
    // fsync per append keeps each request's bytes held across an await, so requests overlap.
    const { url } = await broker({
      BROKER_IN_FLIGHT_BYTES_MAX: "4096",
      BROKER_RETRY_AFTER_MS: "5",
      BROKER_FLUSH: "always",
    });
    await createTopic(url, "pressed", 12);
    const refusals: string[] = [];
    let acked = 0;
    const producer = await Producer.create({
      brokerUrl: url,
      token: testBrokerToken,
      topic: "pressed",
      batchBytesMax: 3000,
      requestBytesMax: 3100,
      lingerMs: 1,
      backoff: { backoffMsMin: 1, backoffMsMax: 10 },
      onRefused: (refusal) => refusals.push(`${refusal.status} ${refusal.code}`),
      onAcked: (ack) => {
        acked += ack.records;
      },
    });
    for (const record of keyedRecords(60, 40)) await producer.send(record);
    expect(producer.unacknowledgedRecords).toBeGreaterThan(0);
    await producer.close();
    // Every refusal was told (the streamer logs and counts them); every record acknowledged once.
    expect(refusals.length).toBeGreaterThan(0);
    expect(new Set(refusals)).toEqual(new Set(["429 slow_down"]));
    expect(acked).toBe(60 * 40);
    expect(producer.unacknowledgedRecords).toBe(0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const slowDowns = metrics
      .split("\n")
      .find((line) => line.startsWith("broker_errors_total") && line.includes('code="slow_down"'));
    expect(Number(slowDowns?.split(" ").pop() ?? 0)).toBeGreaterThan(0);
    assertEachKeyInOrderOnce(await readAll(url, "pressed"), 60, 40, 12);
  });

  test("multi-byte string values fill batches by their encoded size; records too large once encoded are refused", async () => {
    const { url } = await broker();
    await createTopic(url, "utf8", 3);
    const producer = await Producer.create({
      brokerUrl: url,
      token: testBrokerToken,
      topic: "utf8",
      batchBytesMax: 2048,
      lingerMs: 1,
    });
    const wide = "é✓".repeat(150);
    const records = keyedRecords(6, 30).map((record) => ({ ...record, value: `${record.value}:${wide}` }));
    for (const record of records) await producer.send(record);
    expect(() => producer.send({ key: "GPU-0", value: "✓".repeat(1000) })).toThrow(ProducerError);
    expect(() => producer.send({ key: "k".repeat(0x10000), value: "" })).toThrow(ProducerError);
    await producer.close();
    const read = await readAll(url, "utf8");
    expect(read.map((record) => record.value.endsWith(`:${wide}`))).not.toContain(false);
    const trimmed = read.map((record) => ({ ...record, value: record.value.slice(0, -wide.length - 1) }));
    assertEachKeyInOrderOnce(trimmed, 6, 30, 3);
  });

  test("send waits when bufferBytesMax is reached instead of growing the buffer", async () => {
    const { url } = await broker();
    await createTopic(url, "bounded", 2);
    const bufferBytesMax = 8 * 1024;
    const producer = await Producer.create({
      brokerUrl: url,
      token: testBrokerToken,
      topic: "bounded",
      bufferBytesMax,
      batchBytesMax: 2048,
      lingerMs: 20,
    });
    let peakBytes = 0;
    let waited = 0;
    for (const record of keyedRecords(10, 300)) {
      const sent = producer.send(record);
      if (Bun.peek.status(sent) === "pending") waited += 1;
      await sent;
      peakBytes = Math.max(peakBytes, producer.bufferedBytesNow);
    }
    await producer.close();
    expect(waited).toBeGreaterThan(0);
    expect(peakBytes).toBeLessThanOrEqual(bufferBytesMax);
    expect((await readAll(url, "bounded")).length).toBe(3000);
  });

  test("create waits for a broker that is still starting", async () => {
    const probe = Bun.serve({ port: 0, fetch: () => new Response() });
    const port = probe.port;
    await probe.stop(true);
    const creating = Producer.create({
      brokerUrl: `http://127.0.0.1:${port}`,
      token: testBrokerToken,
      topic: "later",
      createTopic: true,
      backoff: { backoffMsMin: 20, backoffMsMax: 50 },
    });
    await Bun.sleep(200);
    await broker({ BROKER_PORT: String(port) });
    const producer = await creating;
    expect(producer.partitionCount).toBe(12);
    await producer.close();
  });

  test("after an out-of-order answer it carries on under a fresh producer id, losing nothing", async () => {
    const { url } = await broker();
    await createTopic(url, "resync", 1);
    const producer = await Producer.create({ brokerUrl: url, token: testBrokerToken, topic: "resync" });
    await producer.send({ key: "k", value: "first" });
    await producer.flush();
    const firstId = producer.currentProducerId;
    // Someone else moves this producer id's sequence on the broker (as a broker that
    // lost or forgot state would disagree): the producer's next sequence is now a gap.
    const records = [0, 1].map((index) => ({ key: "k", value: `intruder${index}`, timestampMs: 1 }));
    const intruder = encodeBatch({ records, producerId: firstId, baseSequence: 1, nowMs: 0 });
    await brokerFetch(`${url}/v1/topics/resync/produce`, {
      method: "POST",
      body: encodeProduceFrames([{ partition: 0, batch: intruder }]),
    });
    await producer.send({ key: "k", value: "second" });
    await producer.close();
    expect(producer.currentProducerId).not.toBe(firstId);
    expect((await readAll(url, "resync")).map((record) => record.value)).toEqual([
      "first",
      "intruder0",
      "intruder1",
      "second",
    ]);
  });

  test("a broker under its disk watermark refuses with 503 disk_full: each refusal is told, the batch retried", async () => {
    const full = await broker({ BROKER_DISK_FREE_BYTES_MIN: String(Number.MAX_SAFE_INTEGER) });
    await createTopic(full.url, "disk", 2);
    const refusals: { status: number; code: string; message: string }[] = [];
    const producer = await Producer.create({
      brokerUrl: full.url,
      token: testBrokerToken,
      topic: "disk",
      lingerMs: 1,
      backoff: { backoffMsMin: 5, backoffMsMax: 20 },
      // Given up soon after the test, so no retry outlives it.
      deliveryTimeoutMs: 2_000,
      onRefused: (refusal) => refusals.push(refusal),
    });
    await producer.send({ key: "k", value: "v" });
    const deadline = performance.now() + 5_000;
    while (refusals.length < 2 && performance.now() < deadline) await Bun.sleep(10);
    expect(refusals[0]).toMatchObject({ status: 503, code: "disk_full" });
    expect(refusals[0]?.message).toContain("disk watermark");
    expect(producer.unacknowledgedRecords).toBe(1);
  });

  test("a batch the broker refuses for good fails flush with the reason", async () => {
    const { url } = await broker({ BROKER_BATCH_BYTES_MAX: "512" });
    await createTopic(url, "strict", 1);
    const producer = await Producer.create({
      brokerUrl: url,
      token: testBrokerToken,
      topic: "strict",
      batchBytesMax: 4096,
    });
    for (let index = 0; index < 20; index += 1) await producer.send({ key: "k", value: "x".repeat(100) });
    const failure = await producer.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProducerError);
    expect(String((failure as Error).cause)).toContain("batchBytesMax");
    await producer.close();
  });
});
