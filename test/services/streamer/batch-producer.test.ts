import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BatchProducer } from "../../../services/streamer/batch-producer.ts";
import { StreamerMetrics } from "../../../services/streamer/metrics.ts";
import { CsvFileSource, csvFileSourceDefaults } from "../../../services/streamer/sources/csv-source.ts";
import { RateLimiter } from "../../../services/streamer/sources/rate-limiter.ts";
import type { RowBatch } from "../../../services/streamer/sources/row-batch.ts";
import { Producer } from "../../../src/broker-client/producer.ts";
import { partitionForKey } from "../../../src/broker-protocol/partitioner.ts";
import { Registry } from "../../../src/observability/metrics.ts";
import { decodeTelemetryRecord } from "../../../src/telemetry/record-codec.ts";
import { type BrokerProcess, startBroker } from "../../support/broker-process.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";
import { readTopic } from "./topic-records.ts";

const samplePath = new URL("../../../data/dcgm_metrics_20250718_134233.csv", import.meta.url).pathname;
const partitionCount = 12;
let broker: BrokerProcess;
/** The sample's rows as one batch (keys and record tails). */
let sample: RowBatch;

beforeAll(async () => {
  broker = await startBroker();
  const keys: string[] = [];
  const tails: Uint8Array[] = [];
  await new CsvFileSource({ ...csvFileSourceDefaults, path: samplePath }).pass((batch) => {
    for (let index = batch.start; index < batch.end; index += 1) {
      keys.push(batch.keys[index]!);
      tails.push(batch.tails[index]!);
    }
  });
  sample = { keys, tails, start: 0, end: keys.length };
});
afterAll(async () => {
  await broker?.stop();
});

async function setup(topic: string, limiter?: RateLimiter, sleep = (ms: number) => Bun.sleep(ms)) {
  const producer = await Producer.create({
    brokerUrl: broker.url,
    token: testBrokerToken,
    topic,
    partitionCount,
    createTopic: true,
  });
  const metrics = new StreamerMetrics(new Registry());
  const unlimited = new RateLimiter({ rowsPerSecond: 0, burstRowsMax: 1_000, clock: () => performance.now() });
  const batchProducer = new BatchProducer({
    producer,
    metrics,
    limiter: limiter ?? unlimited,
    chunkRowsMax: 100,
    clock: Date.now,
    sleep,
  });
  return { producer, metrics, batchProducer };
}

const allLive = { live: () => true };

describe("BatchProducer", () => {
  test("produces only the rows of owned partitions, stamped and keyed by UUID", async () => {
    const { producer, metrics, batchProducer } = await setup("owned-rows");
    const flags = new Uint8Array(partitionCount);
    flags[0] = 1;
    flags[5] = 1;
    const startedMs = Date.now();
    const produced = await batchProducer.produceOwned(sample, { ...allLive, flags });
    await producer.flush();
    const wanted = sample.keys.filter((key) => [0, 5].includes(partitionForKey(key, partitionCount)));
    expect(produced).toBe(wanted.length);
    expect(metrics.producedCount).toBe(wanted.length);
    expect(batchProducer.ownedGpuCount(flags)).toBe(new Set(wanted).size);
    const records = await readTopic(broker.url, "owned-rows");
    expect(records.map((record) => record.key).sort()).toEqual([...wanted].sort());
    for (const record of records) {
      expect([0, 5]).toContain(record.partition);
      const decoded = decodeTelemetryRecord(record.value);
      expect(decoded.ok && decoded.point.uuid === record.key && decoded.point.ts >= startedMs).toBe(true);
    }
    await producer.close();
  });

  test("a lapsed session produces nothing", async () => {
    const { producer, batchProducer } = await setup("lapsed");
    const produced = await batchProducer.produceOwned(sample, {
      live: () => false,
      flags: new Uint8Array(partitionCount).fill(1),
    });
    expect(produced).toBe(0);
    expect(producer.bufferedBytesNow).toBe(0);
    await producer.close();
  });

  test("the rate limit spaces the rows this streamer produces", async () => {
    let nowMs = 0;
    const slept: number[] = [];
    const limiter = new RateLimiter({ rowsPerSecond: 1_000, burstRowsMax: 100, clock: () => nowMs });
    const sleep = async (ms: number) => {
      slept.push(ms);
      nowMs += ms;
    };
    const { producer, batchProducer } = await setup("rated", limiter, sleep);
    const batch: RowBatch = { ...sample, end: 1_000 };
    expect(await batchProducer.produceOwned(batch, { ...allLive, flags: new Uint8Array(partitionCount).fill(1) })).toBe(
      1_000,
    );
    // 1,000 rows at 1,000 rows/s with a 100-row burst: 900 ms of waiting.
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBe(900);
    await producer.close();
  });

  test("sends wait while a flush runs, so the flush ends", async () => {
    const { producer, batchProducer } = await setup("paused");
    const release = Promise.withResolvers<void>();
    const paused = batchProducer.whilePaused(() => release.promise);
    const sending = batchProducer.produceAll(sample);
    await Bun.sleep(50);
    expect(producer.bufferedBytesNow).toBe(0);
    release.resolve();
    await paused;
    expect(await sending).toBe(sample.end);
    await producer.flush();
    expect((await readTopic(broker.url, "paused")).length).toBe(sample.end);
    await producer.close();
  });
});
