/**
 * Backpressure: a broker with the smallest memory watermark refuses concurrent
 * produce requests with a retryable slow_down; the streamer's producer backs off
 * and retries, the source waits on it, and every row still lands exactly once.
 * fsync per append keeps requests in the broker long enough to overlap.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { startStreamer } from "../services/streamer/streamer-process.ts";
import { readTopic } from "../services/streamer/topic-records.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";

const samplePath = new URL("../../data/dcgm_metrics_20250718_134233.csv", import.meta.url).pathname;
const repeatCount = 8;

let broker: BrokerProcess;
let directory = "";

beforeAll(async () => {
  broker = await startBroker({
    env: { BROKER_IN_FLIGHT_BYTES_MAX: "1024", BROKER_RETRY_AFTER_MS: "5", BROKER_FLUSH: "always" },
  });
  directory = await mkdtemp(join(tmpdir(), "streamer-backpressure-"));
});
afterAll(async () => {
  await broker?.stop();
  await rm(directory, { recursive: true, force: true });
});

test("a broker answering slow_down still receives every row once", async () => {
  const text = (await Bun.file(samplePath).text()).trimEnd();
  const [header, ...rows] = text.split("\n");
  const path = join(directory, "repeated.csv");
  await writeFile(path, `${[header, ...Array.from({ length: repeatCount }, () => rows).flat()].join("\n")}\n`);
  const streamer = await startStreamer({
    brokerUrl: broker.url,
    env: {
      STREAMER_MODE: "once",
      STREAMER_CSV_PATH: path,
      STREAMER_TOPIC: "backpressure",
      STREAMER_GROUP: "backpressure",
      // Small batches and buffer: many requests at once, and the source must wait.
      STREAMER_BATCH_BYTES_MAX: "4096",
      STREAMER_BUFFER_BYTES_MAX: "65536",
    },
  });
  expect(await streamer.exited).toBe(0);
  const page = await (await fetch(`${broker.url}/metrics`)).text();
  const slowDowns = page
    .split("\n")
    .filter((line) => line.startsWith("broker_errors_total{") && line.includes('code="slow_down"'))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  expect(slowDowns).toBeGreaterThan(0);

  const records = await readTopic(broker.url, "backpressure");
  expect(records.length).toBe(rows.length * repeatCount);
  const counts = new Map<string, number>();
  for (const record of records) {
    const decoded = decodeTelemetryRecord(record.value);
    if (!decoded.ok) throw new Error(decoded.detail);
    const identity = `${decoded.point.uuid}|${decoded.point.metric}|${decoded.point.source_ts}`;
    counts.set(identity, (counts.get(identity) ?? 0) + 1);
  }
  expect(new Set(counts.values())).toEqual(new Set([repeatCount]));
}, 60_000);
