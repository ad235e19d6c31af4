import type { ClickHouseClient } from "@clickhouse/client";
import { Type } from "@sinclair/typebox";
import type { SourceTopic } from "./source-columns.ts";
import { queryRows } from "./typed-query.ts";

/**
 * What the datapoints table holds of a topic's partitions, by source offset (schema
 * 0006). Every query filters on the by_source projection's sort key, so it reads a
 * few granules of each part, whatever the table's size.
 */

/** Partitions one question may name; a topic has at most 1,024. */
export const partitionsPerQueryMax = 1_024;
/** Offsets one range question may return; a collector asks about one fetched batch at a time. */
export const offsetsPerQueryMax = 1_000_000;

const MaxRow = Type.Object({ partition: Type.Integer({ minimum: 0 }), offset_max: Type.Integer({ minimum: 0 }) });
const CountRow = Type.Object({ offsets: Type.Integer({ minimum: 0 }) });
const OffsetRow = Type.Object({ offset: Type.Integer({ minimum: 0 }) });

/** The highest stored offset of each partition that has any row stored; others are absent. */
export async function storedOffsetMax(
  client: ClickHouseClient,
  topic: SourceTopic,
  partitions: readonly number[],
): Promise<Map<number, number>> {
  if (partitions.length === 0) return new Map();
  if (partitions.length > partitionsPerQueryMax)
    throw new RangeError(`${partitions.length} partitions exceed partitionsPerQueryMax ${partitionsPerQueryMax}`);
  const rows = await queryRows(client, {
    name: "stored offset max",
    sql: `SELECT src_partition AS partition, max(src_offset) AS offset_max FROM datapoints
WHERE src_topic = {topic:String} AND src_topic_id = {topicId:UInt64} AND src_partition IN {partitions:Array(UInt16)}
GROUP BY src_partition`,
    params: { topic: topic.name, topicId: topic.id, partitions: [...partitions] },
    row: MaxRow,
    rowsMax: partitions.length,
  });
  return new Map(rows.map((row) => [row.partition, row.offset_max]));
}

export interface OffsetRange {
  topic: SourceTopic;
  partition: number;
  /** Inclusive. */
  first: number;
  last: number;
}

/** How many distinct offsets of first..last are stored. */
export async function storedOffsetCount(client: ClickHouseClient, range: OffsetRange): Promise<number> {
  assertRange(range);
  const rows = await queryRows(client, {
    name: "stored offset count",
    sql: `SELECT uniqExact(src_offset) AS offsets FROM datapoints
WHERE src_topic = {topic:String} AND src_topic_id = {topicId:UInt64} AND src_partition = {partition:UInt16}
  AND src_offset BETWEEN {first:UInt64} AND {last:UInt64}`,
    params: rangeParams(range),
    row: CountRow,
    rowsMax: 1,
  });
  return rows[0]?.offsets ?? 0;
}

/** The distinct stored offsets of first..last, ascending. */
export async function storedOffsetsIn(client: ClickHouseClient, range: OffsetRange): Promise<number[]> {
  assertRange(range);
  const rows = await queryRows(client, {
    name: "stored offsets",
    sql: `SELECT DISTINCT src_offset AS offset FROM datapoints
WHERE src_topic = {topic:String} AND src_topic_id = {topicId:UInt64} AND src_partition = {partition:UInt16}
  AND src_offset BETWEEN {first:UInt64} AND {last:UInt64}
ORDER BY offset`,
    params: rangeParams(range),
    row: OffsetRow,
    rowsMax: range.last - range.first + 1,
  });
  return rows.map((row) => row.offset);
}

function rangeParams(range: OffsetRange): Record<string, unknown> {
  return {
    topic: range.topic.name,
    topicId: range.topic.id,
    partition: range.partition,
    first: range.first,
    last: range.last,
  };
}

function assertRange(range: OffsetRange): void {
  const { first, last } = range;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || last < first)
    throw new RangeError(`bad offset range ${first}..${last} of ${range.topic.name}/${range.partition}`);
  if (last - first + 1 > offsetsPerQueryMax)
    throw new RangeError(`range ${first}..${last} spans more than offsetsPerQueryMax ${offsetsPerQueryMax}`);
}
