import { binaryContentType, ContentTypeHeader, FetchHeader } from "../../src/broker-protocol/headers.ts";
import type { PartitionLogApi, ReadResult } from "../log/log-api.ts";
import type { BrokerContext } from "./broker-context.ts";
import { BrokerHttpError } from "./http-error.ts";

export interface FetchParams {
  topic: string;
  partition: number;
  offset: number;
  maxBytes: number | undefined;
  waitMs: number | undefined;
}

/**
 * GET /v1/topics/{topic}/partitions/{p}/fetch. Answers raw batch bytes straight
 * from the log (a view of the file or mmap, no copy through JS objects). At the
 * end of the log it long-polls up to `wait_ms` (bounded by waitMsMax) and ends early
 * when an append arrives, the client goes away or the broker shuts down.
 */
export async function handleFetch(context: BrokerContext, params: FetchParams, request: Request): Promise<Response> {
  const { limits } = context;
  if (!context.log.topic(params.topic)) throw new BrokerHttpError("unknown_topic", `unknown topic "${params.topic}"`);
  const log = context.log.partition(params.topic, params.partition);
  const maxBytes = Math.min(params.maxBytes ?? limits.fetchBytesMax, limits.fetchBytesMax);
  const waitMs = Math.min(params.waitMs ?? 0, limits.waitMsMax);
  let result = log.read(params.offset, maxBytes);
  if (result.batchCount === 0 && waitMs > 0 && !context.lifecycle.stopping) {
    const signal = AbortSignal.any([request.signal, context.lifecycle.abort.signal]);
    const appended = await log.waitForAppend(params.offset, waitMs, signal);
    if (appended) result = readAgain(log, params.offset, maxBytes, result);
  }
  context.metrics.fetchedBytes.inc({ topic: params.topic }, result.bytes.byteLength);
  return new Response(result.bytes, { headers: fetchHeaders(result) });
}

/** After the wait, retention may have moved the start past `offset`: the caller gets a 416 then. */
function readAgain(log: PartitionLogApi, offset: number, maxBytes: number, previous: ReadResult): ReadResult {
  const next = log.read(offset, maxBytes);
  return next.batchCount > 0 ? next : { ...previous, highWatermark: next.highWatermark };
}

function fetchHeaders(result: ReadResult): Record<string, string> {
  return {
    [ContentTypeHeader]: binaryContentType,
    [FetchHeader.highWatermark]: String(result.highWatermark),
    [FetchHeader.logStartOffset]: String(result.logStartOffset),
    [FetchHeader.nextOffset]: String(result.nextOffset),
    [FetchHeader.batchCount]: String(result.batchCount),
  };
}
