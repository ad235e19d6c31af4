/**
 * Typed storage errors. The HTTP server maps each class to a status; `retryable`
 * tells a client whether sending the same request again can succeed.
 */

export { BatchTooLargeError, CorruptBatchError } from "../../src/broker-protocol/record-batch.ts";

export class UnknownTopicError extends Error {
  override name = "UnknownTopicError";
  constructor(readonly topic: string) {
    super(`unknown topic "${topic}"`);
  }
}

export class UnknownPartitionError extends Error {
  override name = "UnknownPartitionError";
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly partitionCount: number,
  ) {
    super(`topic "${topic}" has ${partitionCount} partitions, no partition ${partition}`);
  }
}

export class TopicExistsError extends Error {
  override name = "TopicExistsError";
  constructor(readonly topic: string) {
    super(`topic "${topic}" already exists`);
  }
}

/** Bad topic name, partition count over the limit, bad overrides. */
export class InvalidTopicError extends Error {
  override name = "InvalidTopicError";
}

export class OffsetOutOfRangeError extends Error {
  override name = "OffsetOutOfRangeError";
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly highWatermark: number,
    readonly where: string,
  ) {
    super(`offset ${offset} outside [${logStartOffset}, ${highWatermark}] of ${where}`);
  }
}

/** An idempotent producer skipped or reordered sequences: the batch is refused, not stored. */
export class OutOfOrderSequenceError extends Error {
  override name = "OutOfOrderSequenceError";
  constructor(
    readonly producerId: number,
    readonly expectedSequence: number,
    readonly receivedSequence: number,
  ) {
    super(`producer ${producerId}: sequence ${receivedSequence}, expected ${expectedSequence}`);
  }
}

/** A bounded queue (e.g. long-poll waiters) is full: retry later. */
export class LimitExceededError extends Error {
  override name = "LimitExceededError";
  readonly retryable = true;
}

/** The log was closed (shutdown): the server answers 503. */
export class LogClosedError extends Error {
  override name = "LogClosedError";
  readonly retryable = true;
}

export { DiskFullError, isDiskFull, whileWriting } from "../files/disk-full.ts";
