import type { ProduceResponse, TopicInfo } from "../broker-protocol/api-schemas.ts";
import { binaryContentType } from "../broker-protocol/headers.ts";
import { encodeProduceFrames } from "../broker-protocol/produce-frames.ts";
import {
  type DecodedRecord,
  encodeBatch,
  forEachRecord,
  producerIdNone,
  type RecordInput,
  sequenceNone,
} from "../broker-protocol/record-batch.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import { BrokerClientError, BrokerHttp, type BrokerHttpOptions } from "./http-client.ts";
import { fetchPartition } from "./partition-fetch.ts";

/** A range read stops after this many fetches: a range that never completes is an error. */
export const rangeFetchesMax = 1_000;

export interface PartitionRead {
  /** Records at or after the offset asked for, in offset order; key and value are views into the fetched bytes. */
  records: DecodedRecord[];
  /** Offset to read next. */
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/**
 * Turns fetched whole batches into records at or after `fromOffset`, in offset order.
 * The default decodes every batch and throws on one it cannot read; a reader that must
 * get past such a batch (the collector) passes its own.
 */
export type BatchDecoder = (bytes: Uint8Array, fromOffset: number, onRecord: (record: DecodedRecord) => void) => void;

export const decodeAllRecords: BatchDecoder = (bytes, fromOffset, onRecord) => {
  forEachRecord(bytes, (record) => {
    if (record.offset >= fromOffset) onRecord(record);
  });
};

export interface AppendedBatch {
  baseOffset: number;
  lastOffset: number;
}

/**
 * Direct, group-less access to one partition, for what the producer and the
 * consumer do not do: appending to a chosen partition (the producer hashes keys)
 * and reading from a known offset or a known offset range (a consumer is handed
 * what the group assigns, from its committed offset). Used by `broker tail`, the
 * streamers' take-over (reading a partition's tail) and tests.
 */
export class PartitionClient {
  private readonly http: BrokerHttp;

  constructor(options: BrokerHttpOptions) {
    this.http = new BrokerHttp(options);
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.http.json(routeRequest(brokerRoutes.describeTopic, { topic }));
  }

  /**
   * Appends the records as one batch to `partition` and resolves once the broker
   * acknowledged it. Not idempotent: a caller that retries after a lost answer may
   * append the batch twice.
   */
  async append(options: { topic: string; partition: number; records: readonly RecordInput[] }): Promise<AppendedBatch> {
    const { topic, partition, records } = options;
    if (records.length === 0) throw new Error(`append to ${topic}/${partition}: no records`);
    const nowMs = records[0]!.timestampMs;
    const batch = encodeBatch({ records, producerId: producerIdNone, baseSequence: sequenceNone, nowMs });
    const response = await this.http.request(routeRequest(brokerRoutes.produce, { topic }), {
      body: encodeProduceFrames([{ partition, batch }]),
      contentType: binaryContentType,
    });
    const result = ((await response.json()) as ProduceResponse).results[0];
    if (result === undefined || result.error !== undefined) {
      const code = result?.error ?? "no_result";
      const message = `append to ${topic}/${partition} failed: ${code} ${result?.message ?? ""}`.trim();
      throw new BrokerClientError(response.status, code, message, result?.retryable === true, 0, undefined);
    }
    if (result.baseOffset === undefined || result.lastOffset === undefined) {
      throw new Error(`append to ${topic}/${partition}: the broker answered no offsets`);
    }
    return { baseOffset: result.baseOffset, lastOffset: result.lastOffset };
  }

  /** One fetch from `offset`: the records there (possibly none), and where the partition stands. */
  async read(options: {
    topic: string;
    partition: number;
    offset: number;
    fetchBytesMax: number;
    /** Long-poll this long at the end of the log; 0 answers at once. */
    waitMs: number;
    signal?: AbortSignal;
    decode?: BatchDecoder;
  }): Promise<PartitionRead> {
    const fetched = await fetchPartition(this.http, options);
    const records: DecodedRecord[] = [];
    (options.decode ?? decodeAllRecords)(fetched.bytes, options.offset, (record) => records.push(record));
    const nextOffset = Math.max(fetched.nextOffset, options.offset);
    return { records, nextOffset, highWatermark: fetched.highWatermark, logStartOffset: fetched.logStartOffset };
  }

  /** Records from `fromOffset` through `throughOffset` (inclusive), fetching as often as needed. */
  async readRange(options: {
    topic: string;
    partition: number;
    fromOffset: number;
    throughOffset: number;
    fetchBytesMax: number;
    decode?: BatchDecoder;
  }): Promise<{ records: DecodedRecord[]; highWatermark: number }> {
    const { topic, partition, throughOffset, fetchBytesMax, decode } = options;
    const records: DecodedRecord[] = [];
    let next = options.fromOffset;
    let highWatermark = 0;
    for (let fetches = 0; next <= throughOffset; fetches++) {
      if (fetches >= rangeFetchesMax) {
        throw new Error(
          `${topic}/${partition}: offsets ${next}..${throughOffset} still missing after ${rangeFetchesMax} fetches`,
        );
      }
      const read = await this.read({
        topic,
        partition,
        offset: next,
        fetchBytesMax,
        waitMs: 0,
        ...(decode && { decode }),
      });
      highWatermark = read.highWatermark;
      for (const record of read.records) {
        if (record.offset !== next || record.offset > throughOffset) continue;
        records.push(record);
        next += 1;
      }
      if (read.records.length === 0 && highWatermark <= next) {
        throw new Error(`${topic}/${partition}: offset ${next} is past the high watermark ${highWatermark}`);
      }
    }
    return { records, highWatermark };
  }
}
