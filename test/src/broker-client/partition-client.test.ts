import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Admin } from "../../../src/broker-client/admin.ts";
import { BrokerClientError } from "../../../src/broker-client/http-client.ts";
import { PartitionClient } from "../../../src/broker-client/partition-client.ts";
import { startTestBroker, type TestBroker } from "../../brokers/server/test-broker.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

let broker: TestBroker;
let client: PartitionClient;
const decoder = new TextDecoder();
const values = (records: Array<{ value: Uint8Array }>) => records.map((record) => decoder.decode(record.value));

beforeAll(async () => {
  broker = await startTestBroker({ BROKER_AUTO_CREATE_TOPICS: "false" });
  await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic("direct", 3);
  client = new PartitionClient({ brokerUrl: broker.url, token: testBrokerToken });
});
afterAll(async () => await broker.cleanup());

const records = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, index) => ({ key: "k", value: `v${from + index}`, timestampMs: 1_000 }));

describe("PartitionClient", () => {
  test("appends to the partition it is told, not to the key's", async () => {
    expect(await client.append({ topic: "direct", partition: 2, records: records(0, 3) })).toEqual({
      baseOffset: 0,
      lastOffset: 2,
    });
    expect(await client.append({ topic: "direct", partition: 2, records: records(3, 5) })).toEqual({
      baseOffset: 3,
      lastOffset: 4,
    });
    const info = await client.describeTopic("direct");
    expect(info.partitions.map((partition) => partition.highWatermark)).toEqual([0, 0, 5]);
  });

  test("read starts at the offset asked for even inside a batch, and says where to go on", async () => {
    const read = await client.read({ topic: "direct", partition: 2, offset: 1, fetchBytesMax: 1 << 20, waitMs: 0 });
    expect(values(read.records)).toEqual(["v1", "v2", "v3", "v4"]);
    expect(read.records.map((record) => record.offset)).toEqual([1, 2, 3, 4]);
    expect(read).toMatchObject({ nextOffset: 5, highWatermark: 5, logStartOffset: 0 });
    const atEnd = await client.read({ topic: "direct", partition: 2, offset: 5, fetchBytesMax: 1 << 20, waitMs: 0 });
    expect(atEnd).toMatchObject({ records: [], nextOffset: 5, highWatermark: 5 });
  });

  test("readRange reads exactly the range, over as many fetches as the size bound needs", async () => {
    for (let batch = 0; batch < 10; batch++) {
      await client.append({ topic: "direct", partition: 0, records: records(batch * 10, batch * 10 + 10) });
    }
    const range = await client.readRange({
      topic: "direct",
      partition: 0,
      fromOffset: 15,
      throughOffset: 84,
      fetchBytesMax: 1, // one batch per fetch
    });
    expect(range.records.map((record) => record.offset)).toEqual(Array.from({ length: 70 }, (_, index) => 15 + index));
    expect(range.highWatermark).toBe(100);
    const pastTheEnd = client.readRange({
      topic: "direct",
      partition: 0,
      fromOffset: 95,
      throughOffset: 120,
      fetchBytesMax: 1 << 20,
    });
    await expect(pastTheEnd).rejects.toThrow("offset 100 is past the high watermark 100");
  });

  test("a refused append is a BrokerClientError naming the partition and the broker's code", async () => {
    const refused = await client
      .append({ topic: "direct", partition: 7, records: records(0, 1) })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BrokerClientError);
    expect((refused as BrokerClientError).code).toBe("unknown_partition");
    expect((refused as Error).message).toContain("append to direct/7 failed");
    await expect(client.append({ topic: "direct", partition: 0, records: [] })).rejects.toThrow("no records");
  });
});
