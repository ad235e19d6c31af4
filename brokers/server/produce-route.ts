import type { ProduceResponse, ProduceResult } from "../../src/broker-protocol/api-schemas.ts";
import { decodeProduceFrames, type PartitionBatch } from "../../src/broker-protocol/produce-frames.ts";
import {
  type BatchView,
  batchHeaderBytes,
  CorruptBatchError,
  dataViewOf,
  readBatchHeader,
} from "../../src/broker-protocol/record-batch.ts";
import { producerIdsOf, validateBatchesAndRecords } from "../../src/broker-protocol/record-validator.ts";
import type { PartitionLogApi } from "../log/log-api.ts";
import type { BrokerContext } from "./broker-context.ts";
import { toHttpError } from "./error-mapping.ts";
import { BrokerHttpError } from "./http-error.ts";
import { ensureTopic } from "./topic-lookup.ts";

/** Batches one frame may carry: the log's default appendBatchesMax, which refuses more per append too. */
const frameBatchesMax = 1_024;

/**
 * POST /v1/topics/{topic}/produce. The body is read once as bytes, split into
 * frames (views, no copy), every record of every batch is checked (record-validator.ts)
 * and each batch goes to its partition's log as is. Whole-request refusals (size,
 * memory and disk watermarks, shutdown, a malformed batch, a producer id this broker
 * never allocated) come before any append, so such a request stores nothing;
 * per-partition failures are reported per frame so the other partitions' batches still land.
 */
export async function handleProduce(context: BrokerContext, topic: string, request: Request): Promise<Response> {
  refuseEarly(context, request);
  // With a content-length the memory is reserved before the body is read; a chunked
  // body (no length) is bounded by the server's maxRequestBodySize and reserved after.
  const declaredBytes = contentLength(request);
  let heldBytes = 0;
  try {
    if (declaredBytes !== undefined) heldBytes = acquire(context, declaredBytes);
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > context.limits.requestBytesMax) throw tooLarge(context, body.byteLength);
    if (declaredBytes === undefined) heldBytes = acquire(context, body.byteLength);
    const frames = decodeProduceFrames(body);
    const verified = context.checkRecords ? checkFrames(context, frames) : [];
    const info = await ensureTopic(context, topic);
    const results = await Promise.all(
      frames.map((frame, index) => appendFrame(context, topic, info.partitions, frame, verified[index])),
    );
    const response: ProduceResponse = { results };
    return Response.json(response);
  } finally {
    context.gate.release(heldBytes);
    context.metrics.inFlightBytes.set(context.gate.bytes);
  }
}

/**
 * Refuses the whole request at the first malformed batch or unknown producer id
 * (nothing appended yet). Returns each frame's verified batches for the log (undefined
 * for a frame over batchBytesMax, which appendFrame answers per frame).
 */
function checkFrames(context: BrokerContext, frames: readonly PartitionBatch[]): Array<BatchView[] | undefined> {
  const options = { batchBytesMax: context.limits.batchBytesMax, batchesMax: frameBatchesMax };
  return frames.map((frame, index) => {
    if (frame.batch.byteLength > context.limits.batchBytesMax) return undefined;
    let batches: BatchView[];
    try {
      batches = validateBatchesAndRecords(frame.batch, options);
    } catch (error) {
      if (!(error instanceof CorruptBatchError)) throw error;
      context.metrics.errors.inc({ route: "produce", code: "corrupt_batch" });
      throw new BrokerHttpError("corrupt_batch", `frame ${index} (partition ${frame.partition}): ${error.message}`);
    }
    for (const producerId of producerIdsOf(batches)) {
      if (context.producerIds.isAllocated(producerId)) continue;
      context.metrics.errors.inc({ route: "produce", code: "unknown_producer_id" });
      const message = `frame ${index} (partition ${frame.partition}): producer id ${producerId} was not allocated by this broker (POST /v1/producers)`;
      throw new BrokerHttpError("unknown_producer_id", message);
    }
    return batches;
  });
}

function contentLength(request: Request): number | undefined {
  const header = request.headers.get("content-length");
  if (header === null) return undefined;
  const bytes = Number(header);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new BrokerHttpError("bad_request", `content-length ${header}`);
  return bytes;
}

function acquire(context: BrokerContext, bytes: number): number {
  if (!context.gate.tryAcquire(bytes)) throw slowDown(context, "memory watermark");
  context.metrics.inFlightBytes.set(context.gate.bytes);
  return bytes;
}

function refuseEarly(context: BrokerContext, request: Request): void {
  const { limits } = context;
  if (context.lifecycle.stopping) {
    throw new BrokerHttpError("shutting_down", "broker is shutting down", { retryAfterMs: limits.retryAfterMs });
  }
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limits.requestBytesMax) throw tooLarge(context, declared);
  if (context.disk.belowWatermark) {
    const message =
      context.disk.fullReason ??
      `disk watermark: ${context.disk.freeBytes} bytes free, below ${limits.diskFreeBytesMin}`;
    throw new BrokerHttpError("disk_full", message, { retryAfterMs: Math.max(1_000, limits.retryAfterMs) });
  }
}

function tooLarge(context: BrokerContext, bytes: number): BrokerHttpError {
  return new BrokerHttpError(
    "request_too_large",
    `request of ${bytes} bytes exceeds requestBytesMax ${context.limits.requestBytesMax}`,
  );
}

function slowDown(context: BrokerContext, why: string): BrokerHttpError {
  const { gate, limits } = context;
  const message = `${why}: ${gate.bytes} bytes in flight, inFlightBytesMax ${gate.inFlightBytesMax}`;
  return new BrokerHttpError("slow_down", message, { retryAfterMs: limits.retryAfterMs });
}

async function appendFrame(
  context: BrokerContext,
  topic: string,
  partitionCount: number,
  frame: PartitionBatch,
  verified: readonly BatchView[] | undefined,
): Promise<ProduceResult> {
  const { partition, batch } = frame;
  if (batch.byteLength > context.limits.batchBytesMax) {
    const message = `batch of ${batch.byteLength} bytes exceeds batchBytesMax ${context.limits.batchBytesMax}`;
    return { partition, error: "batch_too_large", message, retryable: false };
  }
  if (partition >= partitionCount) {
    const message = `topic "${topic}" has ${partitionCount} partitions, no partition ${partition}`;
    return { partition, error: "unknown_partition", message, retryable: false };
  }
  try {
    const log: PartitionLogApi = context.log.partition(topic, partition);
    const result = await log.append(batch, verified);
    if (!result.duplicate) countProduced(context, topic, batch);
    return { partition, baseOffset: result.baseOffset, lastOffset: result.lastOffset, duplicate: result.duplicate };
  } catch (error) {
    const httpError = toHttpError(error, context.limits.retryAfterMs);
    if (httpError.code === "internal") context.logger.error({ err: error, topic, partition }, "append failed");
    if (httpError.code === "disk_full") noteDiskFull(context, httpError.message);
    context.metrics.errors.inc({ route: "produce", code: httpError.code });
    return { partition, error: httpError.code, message: httpError.message, retryable: httpError.retryable };
  }
}

/** Refuse produce requests up front until the disk watcher sees space again (it checks every few seconds). */
function noteDiskFull(context: BrokerContext, message: string): void {
  if (context.disk.belowWatermark) return;
  context.disk.belowWatermark = true;
  context.disk.fullReason = message;
  context.logger.warn({ reason: message }, "disk full: produce refused (503 disk_full) until space is free");
}

/** Records counted from the batch header only (the frame may hold several batches). */
function countProduced(context: BrokerContext, topic: string, bytes: Uint8Array): void {
  const view = dataViewOf(bytes);
  let records = 0;
  let position = 0;
  while (position + batchHeaderBytes <= bytes.byteLength) {
    const header = readBatchHeader(view, position);
    records += header.recordCount;
    position += 12 + header.batchLength;
  }
  context.metrics.producedRecords.inc({ topic }, records);
  context.metrics.producedBytes.inc({ topic }, bytes.byteLength);
}
