import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ErrorBody, ProduceResponse, TopicInfo } from "../../../src/broker-protocol/api-schemas.ts";
import { encodeProduceFrames, type PartitionBatch } from "../../../src/broker-protocol/produce-frames.ts";
import { dataViewOf, encodeBatch } from "../../../src/broker-protocol/record-batch.ts";
import { recordStart, reseal } from "../../support/batch-surgery.ts";
import { brokerFetch } from "../../support/test-tokens.ts";
import { startTestBroker, type TestBroker } from "./test-broker.ts";

function batchOf(values: string[], producer = { id: -1, sequence: -1 }): Uint8Array {
  const records = values.map((value, index) => ({ key: `k${index}`, value, timestampMs: 1_700_000_000_000 + index }));
  return encodeBatch({ records, producerId: producer.id, baseSequence: producer.sequence, nowMs: 0 });
}

async function produce(url: string, frames: PartitionBatch[]): Promise<Response> {
  return await brokerFetch(`${url}/v1/topics/checked/produce`, { method: "POST", body: encodeProduceFrames(frames) });
}

async function highWatermarks(url: string): Promise<number[]> {
  const info = (await (await brokerFetch(`${url}/v1/topics/checked`)).json()) as TopicInfo;
  return info.partitions.map((partition) => partition.highWatermark);
}

async function allocateProducerId(url: string): Promise<number> {
  return ((await (await brokerFetch(`${url}/v1/producers`, { method: "POST" })).json()) as { producerId: number })
    .producerId;
}

describe("produce checks every record and the producer id before appending", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ BROKER_AUTO_CREATE_TOPICS: "false" });
    const created = await brokerFetch(`${broker.url}/v1/topics`, {
      method: "POST",
      body: JSON.stringify({ name: "checked", partitions: 2 }),
      headers: { "content-type": "application/json" },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => await broker.cleanup());

  test("a batch whose record runs past its end (valid CRC) is a 400 naming it, and nothing of the request is stored", async () => {
    const poisoned = batchOf(["a", "b"]);
    dataViewOf(poisoned).setUint32(recordStart(poisoned, 1), 5_000, true);
    const response = await produce(broker.url, [
      { partition: 0, batch: batchOf(["fine"]) },
      { partition: 1, batch: reseal(poisoned) },
    ]);
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body).toEqual({
      error: "corrupt_batch",
      message: "frame 1 (partition 1): batch at 0: record 1: length 5000 runs past the batch end",
      retryable: false,
    });
    expect(await highWatermarks(broker.url)).toEqual([0, 0]);
    const fine = await produce(broker.url, [{ partition: 0, batch: batchOf(["fine"]) }]);
    expect(((await fine.json()) as ProduceResponse).results[0]).toMatchObject({ baseOffset: 0 });
  });

  test("a producer id the broker never allocated is refused; an allocated one is accepted, also after a restart", async () => {
    const unknown = await produce(broker.url, [{ partition: 0, batch: batchOf(["x"], { id: 77_777, sequence: 0 }) }]);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as ErrorBody).error).toBe("unknown_producer_id");
    const random = await produce(broker.url, [
      { partition: 0, batch: batchOf(["x"], { id: 2 ** 52 + 5, sequence: 0 }) },
    ]);
    expect(random.status).toBe(400);

    const producerId = await allocateProducerId(broker.url);
    const accepted = await produce(broker.url, [
      { partition: 0, batch: batchOf(["x"], { id: producerId, sequence: 0 }) },
    ]);
    expect(accepted.status).toBe(200);
    expect(((await accepted.json()) as ProduceResponse).results[0]?.error).toBeUndefined();

    await broker.stop();
    broker = await startTestBroker({ BROKER_AUTO_CREATE_TOPICS: "false" }, broker.dataDir);
    const again = await produce(broker.url, [{ partition: 0, batch: batchOf(["y"], { id: producerId, sequence: 1 }) }]);
    expect(((await again.json()) as ProduceResponse).results[0]).toMatchObject({ duplicate: false });
    const next = await allocateProducerId(broker.url);
    expect(next).toBeGreaterThan(producerId);
    const beyond = await produce(broker.url, [{ partition: 0, batch: batchOf(["z"], { id: next + 1, sequence: 0 }) }]);
    expect(beyond.status).toBe(400);
  });
});
