import type { BatchView } from "../../src/broker-protocol/record-batch.ts";
/**
 * The storage engine's public surface, for the HTTP server and the group
 * coordinator. PartitionLog and LogManager implement these; depend on these types.
 * Entry point: `await LogManager.open({ dataDir, config: makeLogConfig({...}), clock, logger })`.
 */

import type { LogConfig, TopicOverrides } from "./log-config.ts";
import type { TopicInfo } from "./topic-metadata.ts";

export type { TopicInfo };

/** Time for storage decisions (roll by age, retention), injected so tests control it. */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export interface AppendResult {
  /** Offset of the first record of the first batch. */
  baseOffset: number;
  /** Offset of the last record of the last batch. */
  lastOffset: number;
  /** True when the batches were already stored (idempotent retry): offsets are the originals. */
  duplicate: boolean;
}

export interface ReadResult {
  /** Whole batches, raw as stored (base offsets stamped), possibly empty at the end of the log. */
  bytes: Uint8Array;
  /** Offset after the last record in `bytes` (= the requested offset when empty). */
  nextOffset: number;
  batchCount: number;
  highWatermark: number;
  logStartOffset: number;
}

export interface PartitionLogInfo {
  topic: string;
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  sizeBytes: number;
  segmentCount: number;
}

export interface PartitionLogApi {
  readonly topic: string;
  readonly partition: number;
  /** First offset still stored (retention moves it forward). */
  readonly logStartOffset: number;
  /** Next offset to be written: every offset below it is readable. */
  readonly highWatermark: number;
  readonly sizeBytes: number;
  /**
   * Appends one or more whole batches (takes ownership of `bytes`: base offsets are
   * stamped in place). Resolves once durable per the flush policy. Throws
   * CorruptBatchError, BatchTooLargeError, OutOfOrderSequenceError, LogClosedError.
   * `verified`: the batches of `bytes` as the caller found them after checking their
   * CRCs and records (the produce route does); the log then re-checks only framing and
   * headers against its own limits instead of computing every CRC a second time.
   */
  append(bytes: Uint8Array, verified?: readonly BatchView[]): Promise<AppendResult>;
  /**
   * Whole batches from the one containing `offset`, up to `maxBytes` (at least one
   * batch even if larger). Offset equal to highWatermark gives empty bytes; outside
   * [logStartOffset, highWatermark] throws OffsetOutOfRangeError.
   */
  read(offset: number, maxBytes: number): ReadResult;
  /** Offset of the first record with timestamp >= timestampMs, or highWatermark if none. */
  offsetForTimestamp(timestampMs: number): number;
  /**
   * Resolves true once highWatermark > afterOffset (immediately if already), false on
   * timeout or abort. Throws LimitExceededError when too many waiters.
   */
  waitForAppend(afterOffset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  info(): PartitionLogInfo;
}

export interface LogManagerApi {
  readonly config: LogConfig;
  createTopic(name: string, partitions: number, overrides?: TopicOverrides): Promise<TopicInfo>;
  /** Throws UnknownTopicError. Durable once resolved: a restart does not bring the topic back. */
  deleteTopic(name: string): Promise<TopicInfo>;
  listTopics(): TopicInfo[];
  /** Undefined when the topic does not exist. */
  topic(name: string): TopicInfo | undefined;
  /** Throws UnknownTopicError / UnknownPartitionError. */
  partition(topic: string, partition: number): PartitionLogApi;
  /** Deletes whole segments past retention; returns how many segments were deleted. */
  applyRetention(nowMs: number): number;
  /** fsync every partition and write checkpoints. */
  flushAll(): Promise<void>;
  /** Total bytes of all partitions' segments (for a disk watermark). */
  totalSizeBytes(): number;
  /** Flushes, checkpoints, trims indexes and closes files; later calls throw LogClosedError. */
  close(): Promise<void>;
}

export interface LogManagerOptions {
  dataDir: string;
  config: LogConfig;
  clock?: Clock;
  logger?: import("pino").Logger;
}
