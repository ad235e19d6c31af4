import type { ClickHouseClient } from "@clickhouse/client";
import { Elysia } from "elysia";
import type { RowsClient } from "../../src/clickhouse/typed-query.ts";
import type { Registry } from "../../src/observability/metrics.ts";
import { apiModels } from "./api-models.ts";
import type { TailStore } from "./live/tail-store.ts";
import type { QueryGate } from "./query-gate.ts";

/** Bounds of what one request may ask for. */
export interface ApiLimits {
  /** Telemetry window when start_time is omitted. */
  telemetryWindowMsDefault: number;
  /** Longest start_time..end_time window of one telemetry or summary query. */
  telemetryWindowMsMax: number;
  /** Longest window of one summary query (summaries are cheap: buckets are bounded). */
  summaryWindowMsMax: number;
  /** Buckets per series a summary may return; a finer step over a long window is a 400. */
  summaryBucketsMax: number;
  /** How long GPU and host listings are reused (0: never). */
  listCacheTtlMs: number;
  /**
   * Characters of telemetry pages kept, each served again only while the datapoints
   * parts of its window are unchanged (0: no cache, and no parts query per request).
   */
  telemetryCacheCharsMax: number;
  /** Longest wait for ClickHouse in /ready. */
  readyTimeoutMs: number;
  /** Retry-After sent with a 503. */
  retryAfterS: number;
  /** ClickHouse queries one API process runs at once; more wait in a bounded queue. */
  clickhouseInFlightMax: number;
  clickhouseQueueLengthMax: number;
  /** A request that waited this long for a ClickHouse slot gets a 503. */
  clickhouseWaitMsMax: number;
  /** GPUs in one fleet answer at most. */
  fleetGpusMax: number;
  /** A GPU silent for longer than this is marked stale. */
  fleetStaleAfterMs: number;
  /** Event streams open at once; one more is a 503. */
  streamsMax: number;
  /** Bytes queued for one stream client; a client that falls that far behind is dropped. */
  streamBufferBytesMax: number;
  /** A comment line on every stream this often, so idle connections stay open. */
  streamHeartbeatMs: number;
  /** Datapoints one NDJSON or CSV export streams at most. */
  exportRowsMax: number;
}

export const apiLimitsDefault: ApiLimits = {
  telemetryWindowMsDefault: 3_600_000,
  telemetryWindowMsMax: 7 * 86_400_000,
  summaryWindowMsMax: 31 * 86_400_000,
  summaryBucketsMax: 2_000,
  listCacheTtlMs: 1_000,
  telemetryCacheCharsMax: 64_000_000,
  readyTimeoutMs: 2_000,
  retryAfterS: 5,
  clickhouseInFlightMax: 16,
  clickhouseQueueLengthMax: 256,
  clickhouseWaitMsMax: 2_000,
  fleetGpusMax: 20_000,
  fleetStaleAfterMs: 60_000,
  streamsMax: 1_000,
  streamBufferBytesMax: 4 * 1024 * 1024,
  streamHeartbeatMs: 5_000,
  exportRowsMax: 1_000_000,
};

/** What the data routes need; built once by createApiApp. */
export interface ApiContext {
  clickhouse: ClickHouseClient;
  /** For the hot reads (telemetry pages and the parts they are cached by); may be `clickhouse` itself. */
  reader: RowsClient;
  /** Epoch milliseconds: "now" for default windows and cache expiry. */
  clock: () => number;
  limits: ApiLimits;
  /** Every ClickHouse call of a request goes through it. */
  queries: QueryGate;
  registry: Registry;
  /** Recent datapoints in memory (the live tail), when the API follows the broker. */
  live: TailStore | undefined;
  /** HMAC key of page cursors (cursor-codec.ts). */
  cursorKey: Uint8Array;
}

/** The named models, shared by every route plugin so `response: "Gpu"` resolves. */
export const apiModelsPlugin = new Elysia({ name: "api-models" }).model(apiModels);

/** GETs answer JSON only; this also keeps the OpenAPI document to one content type. */
export const jsonRoute = { parse: "json" } as const;
