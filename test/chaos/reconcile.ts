import type { ClickHouseClient } from "@clickhouse/client";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { PartitionClient } from "../../src/broker-client/partition-client.ts";
import { decodeTelemetryRecord, scheduledRecordTag } from "../../src/telemetry/record-codec.ts";
import { chaosIdentity, chaosUuidPrefix } from "./chaos-load.ts";

/** What the topic holds, read back record by record. */
export interface TopicContents {
  /** Records per partition (the high watermark; nothing is deleted by retention in a run). */
  highWatermarks: number[];
  records: number;
  /** Per GPU metric of the schedule, the timestamps of its records in offset order. */
  scheduleSeries: Map<string, number[]>;
  /** Identities of the chaos load's records found in the topic. */
  chaosIdentities: Set<string>;
  undecodable: number;
}

export interface Reconciliation {
  acked: number;
  stored: number;
  rows: number;
  /** Acknowledged records not in ClickHouse, plus records of the topic whose offset is not there. */
  lost: number;
  /** Rows beyond the first of one source offset. */
  duplicated: number;
  /** Rows beyond the first of one (GPU, metric, timestamp): a re-send or a duplicate. */
  contentDuplicates: number;
  /** Records of the schedule sent twice (one GPU row of one pass twice in the topic). */
  resent: number;
  /** The longest time between two consecutive records of one GPU metric of the schedule. */
  maxGapMs: number;
  /** Which GPU metric, and from which due time (for a person to look into). */
  maxGapAt: string;
  deadLetters: number;
}

const fetchBytesMax = 8 * 1024 * 1024;
const windowRecords = 20_000;

export async function readTopic(broker: BrokerConnection, topic: string): Promise<TopicContents> {
  const io = new PartitionClient({ ...broker, requestTimeoutMs: 60_000 });
  const info = await io.describeTopic(topic);
  const contents: TopicContents = {
    highWatermarks: [],
    records: 0,
    scheduleSeries: new Map(),
    chaosIdentities: new Set(),
    undecodable: 0,
  };
  for (const { partition, logStartOffset, highWatermark } of info.partitions) {
    contents.highWatermarks[partition] = highWatermark;
    for (let from = logStartOffset; from < highWatermark; from += windowRecords) {
      const through = Math.min(highWatermark - 1, from + windowRecords - 1);
      const read = await io.readRange({ topic, partition, fromOffset: from, throughOffset: through, fetchBytesMax });
      for (const record of read.records) addRecord(contents, record.value);
    }
  }
  return contents;
}

function addRecord(contents: TopicContents, value: Uint8Array): void {
  contents.records += 1;
  const decoded = decodeTelemetryRecord(value);
  if (!decoded.ok) {
    contents.undecodable += 1;
    return;
  }
  const { uuid, metric, ts } = decoded.point;
  if (uuid.startsWith(chaosUuidPrefix)) contents.chaosIdentities.add(chaosIdentity(uuid, ts));
  if (value[0] !== scheduledRecordTag) return;
  const key = `${uuid}|${metric}`;
  const series = contents.scheduleSeries.get(key);
  if (series === undefined) contents.scheduleSeries.set(key, [ts]);
  else series.push(ts);
}

async function scalar(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<number> {
  const result = await client.query({ query, query_params: params, format: "JSONEachRow" });
  const rows = await result.json<{ n: number | string }>();
  return Number(rows[0]?.n ?? 0);
}

/** Offsets of the topic's partitions that ClickHouse does not hold. */
async function missingOffsets(client: ClickHouseClient, topic: string, highWatermarks: number[]): Promise<number> {
  let missing = 0;
  for (const [partition, highWatermark] of highWatermarks.entries()) {
    const held = await scalar(
      client,
      `SELECT uniqExact(src_offset) AS n FROM datapoints
WHERE src_topic = {topic:String} AND src_partition = {partition:UInt16} AND src_offset < {end:UInt64}`,
      { topic, partition, end: highWatermark },
    );
    missing += highWatermark - held;
  }
  return missing;
}

async function chaosRowsIn(client: ClickHouseClient): Promise<Set<string>> {
  const result = await client.query({
    query: `SELECT uuid, toUnixTimestamp64Milli(ts) AS ts FROM datapoints WHERE startsWith(uuid, {prefix:String})`,
    query_params: { prefix: chaosUuidPrefix },
    format: "JSONEachRow",
  });
  const rows = await result.json<{ uuid: string; ts: number | string }>();
  return new Set(rows.map((row) => chaosIdentity(row.uuid, Number(row.ts))));
}

/** Re-sends and the longest step between consecutive records of one GPU metric of the schedule. */
export function scheduleFigures(series: Map<string, number[]>): { resent: number; maxGapMs: number; maxGapAt: string } {
  let resent = 0;
  let maxGapMs = 0;
  let maxGapAt = "";
  for (const [key, times] of series) {
    const seen = new Set<number>();
    for (const [index, ts] of times.entries()) {
      if (seen.has(ts)) resent += 1;
      seen.add(ts);
      const stepMs = index > 0 ? ts - (times[index - 1] as number) : 0;
      if (stepMs <= maxGapMs) continue;
      maxGapMs = stepMs;
      maxGapAt = `${key} after ${new Date(times[index - 1] as number).toISOString()}`;
    }
  }
  return { resent, maxGapMs, maxGapAt };
}

export async function reconcile(options: {
  client: ClickHouseClient;
  topic: string;
  contents: TopicContents;
  acked: ReadonlySet<string>;
  deadLetters: number;
}): Promise<Reconciliation> {
  const { client, topic, contents, acked } = options;
  const rows = await scalar(client, "SELECT count() AS n FROM datapoints");
  const sources = await scalar(
    client,
    "SELECT uniqExact(src_partition, src_offset) AS n FROM datapoints WHERE src_topic = {topic:String}",
    { topic },
  );
  const sourced = await scalar(client, "SELECT count() AS n FROM datapoints WHERE src_topic = {topic:String}", {
    topic,
  });
  const distinctContent = await scalar(client, "SELECT uniqExact(uuid, metric, ts) AS n FROM datapoints");
  const chaosStored = await chaosRowsIn(client);
  let lostAcked = 0;
  for (const identity of acked) if (!chaosStored.has(identity)) lostAcked += 1;
  const missing = await missingOffsets(client, topic, contents.highWatermarks);
  const { resent, maxGapMs, maxGapAt } = scheduleFigures(contents.scheduleSeries);
  return {
    acked: acked.size,
    stored: contents.records,
    rows,
    lost: lostAcked + Math.max(0, missing - options.deadLetters),
    duplicated: sourced - sources,
    contentDuplicates: rows - distinctContent,
    resent,
    maxGapMs,
    maxGapAt,
    deadLetters: options.deadLetters,
  };
}
