import { BrokerHttp } from "../../src/broker-client/http-client.ts";
import { fetchPartition } from "../../src/broker-client/partition-fetch.ts";
import type { ProduceResponse, TopicInfo } from "../../src/broker-protocol/api-schemas.ts";
import { encodeProduceFrames } from "../../src/broker-protocol/produce-frames.ts";
import {
  type DecodedRecord,
  encodeBatch,
  forEachRecord,
  producerIdNone,
  sequenceNone,
} from "../../src/broker-protocol/record-batch.ts";
import { brokerRoutes, routeRequest } from "../../src/broker-protocol/routes.ts";

/** Reads of one partition stop after this many fetches: a range that never completes is an error. */
export const rangeFetchesMax = 1_000;

export interface PartitionRead {
  /** Records at or after `fromOffset`, in offset order; key and value are views into the fetched bytes. */
  records: DecodedRecord[];
  highWatermark: number;
}

/**
 * Direct, group-less access to one partition, for what the consumer does not do:
 * writing to a chosen partition (the producer hashes keys) and reading a known
 * offset range (recovery needs records it has not been handed yet).
 */
export class PartitionIo {
  readonly http: BrokerHttp;

  constructor(options: { brokerUrl: string; requestTimeoutMs?: number }) {
    this.http = new BrokerHttp(options);
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.http.json(routeRequest(brokerRoutes.describeTopic, { topic }));
  }

  /** Appends the values as one batch to `partition`; resolves once the broker acknowledged it. */
  async produce(options: {
    topic: string;
    partition: number;
    values: readonly string[];
    key: string;
    nowMs: number;
  }): Promise<void> {
    if (options.values.length === 0) throw new Error(`produce to ${options.topic}/${options.partition}: no values`);
    const records = options.values.map((value) => ({ key: options.key, value, timestampMs: options.nowMs }));
    const batch = encodeBatch({
      records,
      producerId: producerIdNone,
      baseSequence: sequenceNone,
      nowMs: options.nowMs,
    });
    const body = encodeProduceFrames([{ partition: options.partition, batch }]);
    const response = await this.http.request(routeRequest(brokerRoutes.produce, { topic: options.topic }), {
      body,
      contentType: "application/octet-stream",
    });
    const result = ((await response.json()) as ProduceResponse).results[0];
    if (result === undefined || result.error !== undefined) {
      throw new Error(
        `produce to ${options.topic}/${options.partition} failed: ${result?.error ?? "no result"} ${result?.message ?? ""}`,
      );
    }
  }

  /** Records from `fromOffset` through `throughOffset` (inclusive), fetching as often as needed. */
  async readRange(options: {
    topic: string;
    partition: number;
    fromOffset: number;
    throughOffset: number;
    fetchBytesMax: number;
  }): Promise<PartitionRead> {
    const records: DecodedRecord[] = [];
    let next = options.fromOffset;
    let highWatermark = 0;
    for (let fetches = 0; next <= options.throughOffset; fetches++) {
      if (fetches >= rangeFetchesMax) {
        throw new Error(
          `${options.topic}/${options.partition}: offsets ${next}..${options.throughOffset} still missing after ${rangeFetchesMax} fetches`,
        );
      }
      const read = await this.fetchOnce(options.topic, options.partition, next, options.fetchBytesMax);
      highWatermark = read.highWatermark;
      for (const record of read.records) {
        if (record.offset !== next || record.offset > options.throughOffset) continue;
        records.push(record);
        next += 1;
      }
      if (read.records.length === 0 && highWatermark <= next) {
        throw new Error(
          `${options.topic}/${options.partition}: offset ${next} is past the high watermark ${highWatermark}`,
        );
      }
    }
    return { records, highWatermark };
  }

  private async fetchOnce(
    topic: string,
    partition: number,
    fromOffset: number,
    fetchBytesMax: number,
  ): Promise<PartitionRead> {
    const { bytes, highWatermark } = await fetchPartition(this.http, {
      topic,
      partition,
      offset: fromOffset,
      fetchBytesMax,
      waitMs: 0,
    });
    const records: DecodedRecord[] = [];
    forEachRecord(bytes, (record) => {
      if (record.offset >= fromOffset) records.push(record);
    });
    return { records, highWatermark };
  }
}
