import { FetchHeader } from "../broker-protocol/headers.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import type { BrokerHttp } from "./http-client.ts";

export interface PartitionFetchRequest {
  topic: string;
  partition: number;
  /** First offset wanted; the answer's first batch may start earlier (whole batches). */
  offset: number;
  fetchBytesMax: number;
  /** Long-poll this long when nothing is there; 0 answers at once. */
  waitMs: number;
  signal?: AbortSignal;
}

/** One fetch answer: whole batches as stored, and where the partition stands. */
export interface FetchedBytes {
  bytes: Uint8Array;
  /** Offset to fetch next (the fetch offset when nothing came). */
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
  batchCount: number;
}

/**
 * The one fetch request of the client: every reader of a partition (the consumer's
 * fetch loops, the group-less partition client) goes through here. A long-poll's
 * wait is added to the request timeout, so a slow answer at the end of the log is
 * not taken for a dead broker.
 */
export async function fetchPartition(http: BrokerHttp, request: PartitionFetchRequest): Promise<FetchedBytes> {
  const { topic, partition, offset, fetchBytesMax, waitMs } = request;
  const route = routeRequest(
    brokerRoutes.fetch,
    { topic, partition },
    {
      offset,
      max_bytes: fetchBytesMax,
      wait_ms: waitMs,
    },
  );
  const init = { timeoutMs: waitMs + http.requestTimeoutMs, ...(request.signal ? { signal: request.signal } : {}) };
  const response = await http.request(route, init);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    bytes,
    nextOffset: headerNumber(response, FetchHeader.nextOffset),
    highWatermark: headerNumber(response, FetchHeader.highWatermark),
    logStartOffset: headerNumber(response, FetchHeader.logStartOffset),
    batchCount: headerNumber(response, FetchHeader.batchCount),
  };
}

function headerNumber(response: Response, name: string): number {
  const value = Number(response.headers.get(name));
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`fetch answer header ${name} is ${JSON.stringify(response.headers.get(name))}, not an offset`);
  }
  return value;
}
