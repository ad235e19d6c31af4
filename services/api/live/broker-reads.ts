import { ConsumedBatch } from "../../../src/broker-client/consumed-batch.ts";
import { BrokerClientError, type BrokerHttp } from "../../../src/broker-client/http-client.ts";
import { fetchPartition } from "../../../src/broker-client/partition-fetch.ts";
import type { TopicInfo } from "../../../src/broker-protocol/api-schemas.ts";
import type { GroupOffsets, OffsetResetPolicy } from "../../../src/broker-protocol/group-protocol.ts";
import { brokerRoutes, routeRequest } from "../../../src/broker-protocol/routes.ts";

/**
 * The few broker reads the API makes, over the broker's public HTTP API: a topic's
 * partitions, a group's committed offsets, and raw fetches. The API is no group
 * member: it reads partitions like a tool does, and commits nothing.
 */

export async function describeTopic(http: BrokerHttp, topic: string): Promise<TopicInfo | undefined> {
  try {
    return await http.json(routeRequest(brokerRoutes.describeTopic, { topic }));
  } catch (error) {
    if (error instanceof BrokerClientError && error.status === 404) return undefined;
    throw error;
  }
}

export interface CommittedOffsets {
  /** partition → committed offset (the next one to consume); a partition never committed is absent. */
  offsets: Map<number, number>;
  /** Where the group starts a partition it never committed; undefined when the group does not exist. */
  resetPolicy: OffsetResetPolicy | undefined;
}

export async function committedOffsets(http: BrokerHttp, group: string, topic: string): Promise<CommittedOffsets> {
  let answer: GroupOffsets;
  try {
    answer = await http.json(routeRequest(brokerRoutes.groupOffsets, { group }, { topic }));
  } catch (error) {
    if (error instanceof BrokerClientError && error.status === 404)
      return { offsets: new Map(), resetPolicy: undefined };
    throw error;
  }
  return {
    offsets: new Map(answer.offsets.map((entry) => [entry.partition, entry.offset])),
    resetPolicy: answer.resetPolicy,
  };
}

export interface FetchOptions {
  topic: string;
  partition: number;
  offset: number;
  bytesMax: number;
  waitMs: number;
  signal: AbortSignal;
}

/** One long-poll; undefined when nothing new arrived within the wait. */
export async function fetchBatch(http: BrokerHttp, options: FetchOptions): Promise<ConsumedBatch | undefined> {
  const { topic, partition, offset } = options;
  const { bytes, nextOffset, highWatermark } = await fetchPartition(http, {
    topic,
    partition,
    offset,
    fetchBytesMax: options.bytesMax,
    waitMs: options.waitMs,
    signal: options.signal,
  });
  if (bytes.byteLength === 0 || !(nextOffset > offset)) return undefined;
  return new ConsumedBatch(topic, partition, bytes, offset, nextOffset, highWatermark);
}

export function isOffsetOutOfRange(error: unknown): boolean {
  return error instanceof BrokerClientError && error.code === "offset_out_of_range";
}
