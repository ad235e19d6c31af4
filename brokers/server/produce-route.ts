import type { ProduceResponse, ProduceResult } from "../../src/broker-protocol/api-schemas.ts";
import { decodeProduceFrames, type PartitionBatch } from "../../src/broker-protocol/produce-frames.ts";
import { batchHeaderBytes, dataViewOf, readBatchHeader } from "../../src/broker-protocol/record-batch.ts";
import type { PartitionLogApi } from "../log/log-api.ts";
import type { BrokerContext } from "./broker-context.ts";
import { toHttpError } from "./error-mapping.ts";
import { BrokerHttpError } from "./http-error.ts";
import { ensureTopic } from "./topic-lookup.ts";

/**
 * POST /v1/topics/{topic}/produce. The body is read once as bytes, split into
 * frames (views, no copy) and each batch goes to its partition's log as is: the
 * broker never decodes records. Whole-request refusals (size, memory and disk
 * watermarks, shutdown) come before any append; per-partition failures are
 * reported per frame so the other partitions' batches still land.
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
    const info = await ensureTopic(context, topic);
    const results = await Promise.all(frames.map((frame) => appendFrame(context, topic, info.partitions, frame)));
    const response: ProduceResponse = { results };
    return Response.json(response);
  } finally {
    context.gate.release(heldBytes);
    context.metrics.inFlightBytes.set(context.gate.bytes);
  }
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
    const result = await log.append(batch);
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
