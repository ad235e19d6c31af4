import type { ErrorCode } from "../../src/broker-protocol/api-schemas.ts";
import { FrameError } from "../../src/broker-protocol/produce-frames.ts";
import { GroupError } from "../groups/errors.ts";
import {
  BatchTooLargeError,
  CorruptBatchError,
  InvalidTopicError,
  isDiskFull,
  LimitExceededError,
  LogClosedError,
  OffsetOutOfRangeError,
  OutOfOrderSequenceError,
  TopicExistsError,
  UnknownPartitionError,
  UnknownTopicError,
} from "../log/errors.ts";
import { BrokerHttpError } from "./http-error.ts";

/**
 * Turns a storage, group or framing error into the HTTP error it means. Anything
 * unrecognised is an internal error (500, retryable) and is logged by the caller.
 */
export function toHttpError(error: unknown, retryAfterMs: number): BrokerHttpError {
  if (error instanceof BrokerHttpError) return error;
  if (error instanceof GroupError) {
    const override = { status: error.httpStatus, retryable: error.retryable };
    return new BrokerHttpError(error.code satisfies ErrorCode, error.message, {}, override);
  }
  const storage = storageError(error, retryAfterMs);
  if (storage !== undefined) return storage;
  // Wherever the disk filled up (a log, an index, a checkpoint, a producer-id block):
  // nothing was changed, and the same request succeeds once space is freed.
  if (isDiskFull(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new BrokerHttpError("disk_full", message, { retryAfterMs: Math.max(1_000, retryAfterMs) });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerHttpError("internal", message);
}

function storageError(error: unknown, retryAfterMs: number): BrokerHttpError | undefined {
  if (error instanceof UnknownTopicError) return new BrokerHttpError("unknown_topic", error.message);
  if (error instanceof UnknownPartitionError) return new BrokerHttpError("unknown_partition", error.message);
  if (error instanceof TopicExistsError) return new BrokerHttpError("topic_exists", error.message);
  if (error instanceof InvalidTopicError) return new BrokerHttpError("bad_request", error.message);
  if (error instanceof FrameError) return new BrokerHttpError("bad_request", error.message);
  if (error instanceof CorruptBatchError) return new BrokerHttpError("corrupt_batch", error.message);
  if (error instanceof BatchTooLargeError) return new BrokerHttpError("batch_too_large", error.message);
  if (error instanceof OutOfOrderSequenceError) return new BrokerHttpError("out_of_order_sequence", error.message);
  if (error instanceof LimitExceededError) return new BrokerHttpError("slow_down", error.message, { retryAfterMs });
  if (error instanceof LogClosedError) return new BrokerHttpError("shutting_down", error.message, { retryAfterMs });
  if (error instanceof OffsetOutOfRangeError) {
    const range = { logStartOffset: error.logStartOffset, highWatermark: error.highWatermark };
    return new BrokerHttpError("offset_out_of_range", error.message, range);
  }
  return undefined;
}
