import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../../src/broker-client/admin.ts";
import { PartitionClient } from "../../../src/broker-client/partition-client.ts";
import { Producer } from "../../../src/broker-client/producer.ts";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { encodeTelemetryRecord } from "../../../src/telemetry/record-codec.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

const gpuCount = 40;
const metrics = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE"];

/** A deterministic datapoint; `index` makes (uuid, metric, ts) unique, so rows can be counted exactly. */
export function pointAt(index: number, baseMs: number): TelemetryPoint {
  const gpu = index % gpuCount;
  return {
    ts: baseMs + index,
    source_ts: baseMs - 60_000 + index,
    uuid: `GPU-00000000-0000-0000-0000-${String(gpu).padStart(12, "0")}`,
    hostname: `host-${Math.floor(gpu / 8)}`,
    gpu_index: gpu % 8,
    device: `nvidia${gpu % 8}`,
    model: "NVIDIA H100 80GB HBM3",
    metric: metrics[index % metrics.length]!,
    value: index / 4,
    container: index % 2 === 0 ? "" : "trainer",
    pod: index % 2 === 0 ? "" : "job-7",
    namespace: index % 2 === 0 ? "" : "ml",
    labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
  };
}

/** An hour ago, on a minute: inside the retention, fixed for the test. */
export function recentBaseMs(): number {
  return Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
}

export async function createTopic(brokerUrl: string, topic: string, partitions: number): Promise<void> {
  await new Admin({ brokerUrl, token: testBrokerToken }).createTopic(topic, partitions);
}

/** Produces wire records (or raw strings, for poison) keyed like the streamer does. */
export async function produceRecords(
  brokerUrl: string,
  topic: string,
  records: ReadonlyArray<{ key: string; value: string | Uint8Array }>,
): Promise<void> {
  const producer = await Producer.create({ brokerUrl, token: testBrokerToken, topic, lingerMs: 5 });
  for (const record of records) await producer.send(record);
  await producer.close();
}

export function wireRecords(from: number, count: number, baseMs: number): Array<{ key: string; value: Uint8Array }> {
  return Array.from({ length: count }, (_, offset) => {
    const point = pointAt(from + offset, baseMs);
    return { key: point.uuid, value: encodeTelemetryRecord(point) };
  });
}

export async function rowCount(client: ClickHouseClient, table = "datapoints"): Promise<number> {
  const result = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: "JSONEachRow" });
  const rows = await result.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0);
}

/** Rows whose (uuid, metric, ts) appears more than once: duplicates. */
export async function duplicateCount(client: ClickHouseClient): Promise<number> {
  const result = await client.query({
    query:
      "SELECT count() AS n FROM (SELECT uuid, metric, ts, count() AS c FROM datapoints GROUP BY uuid, metric, ts HAVING c > 1)",
    format: "JSONEachRow",
  });
  const rows = await result.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0);
}

/** Every record of a topic (all partitions), values as bytes. */
export async function readTopic(
  brokerUrl: string,
  topic: string,
): Promise<Array<{ partition: number; offset: number; value: Uint8Array }>> {
  const io = new PartitionClient({ brokerUrl, token: testBrokerToken });
  const info = await io.describeTopic(topic);
  const all: Array<{ partition: number; offset: number; value: Uint8Array }> = [];
  for (const entry of info.partitions) {
    if (entry.highWatermark <= entry.logStartOffset) continue;
    const read = await io.readRange({
      topic,
      partition: entry.partition,
      fromOffset: entry.logStartOffset,
      throughOffset: entry.highWatermark - 1,
      fetchBytesMax: 8 * 1024 * 1024,
    });
    for (const record of read.records)
      all.push({ partition: entry.partition, offset: record.offset, value: record.value.slice() });
  }
  return all;
}

/** Committed offsets of a group on a topic, by partition. */
export async function committedOffsets(brokerUrl: string, group: string, topic: string): Promise<Map<number, number>> {
  const description = await new Admin({ brokerUrl, token: testBrokerToken }).describeGroup(group);
  return new Map(
    description.offsets.filter((entry) => entry.topic === topic).map((entry) => [entry.partition, entry.offset]),
  );
}
