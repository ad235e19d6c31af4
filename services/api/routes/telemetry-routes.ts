import { Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { getGpu } from "../../../src/clickhouse/gpu-queries.ts";
import {
  type DatapointsParts,
  DatapointsPartsReader,
  windowFingerprint,
} from "../../../src/clickhouse/parts-fingerprint.ts";
import {
  TelemetryCursor,
  type TelemetryPageOptions,
  type TelemetryPointRow,
  telemetryPage,
  telemetryPageLimitMax,
} from "../../../src/clickhouse/telemetry-page.ts";
import { findMetric, metricCatalog } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, readAccess, type TelemetryItem, type TelemetryPage } from "../api-models.ts";
import { type CursorCodec, createCursorCodec, cursorLengthMax, queryCheck } from "../cursor-codec.ts";
import { badRequest } from "../errors.ts";
import { FingerprintedCache } from "../fingerprinted-cache.ts";
import { type GpuReference, parseGpuId } from "../gpu-id.ts";
import { gpuNotFound, lookupGpu } from "../gpu-lookup.ts";
import { liveTelemetryPage, type PageSource } from "../live/live-window.ts";
import { parseMetricFilter } from "../metric-filter.ts";
import { jsonResponse, type SerializedJson } from "../serialized-json.ts";
import { SharedRead } from "../shared-read.ts";
import { epochMsMax, epochMsMin, formatRfc3339 } from "../time-parsing.ts";
import { describeMs, resolveTimeWindow, type TimeWindow } from "../time-window.ts";
import { GpuParams } from "./gpu-routes.ts";

export const telemetryLimitDefault = 1_000;
export const telemetryLimitMax = telemetryPageLimitMax;
const timeTextLengthMax = 64;
const pageCacheEntriesMax = 10_000;
/** A page of telemetryLimitMax items is about 1.3 M characters; larger answers are not kept. */
const pageCacheEntryCharsMax = 2_000_000;

const timeDescription = (which: string) =>
  `${which}, inclusive, RFC 3339 with any offset and optional fraction ` +
  "(e.g. 2025-07-18T20:42:34Z, 2025-07-18T22:42:34.5+02:00); milliseconds are the finest step";

/** start_time, end_time and metric: shared with the summary route. */
export const windowQueryProperties = (limits: ApiContext["limits"]) => ({
  start_time: t.Optional(
    t.String({
      maxLength: timeTextLengthMax,
      description: `${timeDescription("Window start")}. Default: end_time − ${describeMs(limits.telemetryWindowMsDefault)}.`,
    }),
  ),
  end_time: t.Optional(
    t.String({
      maxLength: timeTextLengthMax,
      description: `${timeDescription("Window end")}. Default: now. At most ${describeMs(limits.telemetryWindowMsMax)} after start_time.`,
    }),
  ),
  metric: t.Optional(
    t.Array(t.String({ maxLength: 128 }), {
      maxItems: metricCatalog.length * 2,
      description: "Only these DCGM fields; repeat the parameter or separate names with commas. Default: all.",
    }),
  ),
});

const TelemetryCursorPosition = Type.Object({
  after: TelemetryCursor,
  startMs: Type.Integer({ minimum: epochMsMin, maximum: epochMsMax }),
  endMs: Type.Integer({ minimum: epochMsMin, maximum: epochMsMax }),
});
type TelemetryCursorCodec = CursorCodec<typeof TelemetryCursorPosition>;

/** GET /api/v1/gpus/{id}/telemetry: one GPU's datapoints in a window, keyset-paginated. */
export function telemetryRoutes(context: ApiContext) {
  const TelemetryQuery = t.Object({
    ...windowQueryProperties(context.limits),
    order: t.Optional(t.UnionEnum(["asc", "desc"], { default: "asc", description: "by time; asc is oldest first" })),
    limit: t.Optional(
      t.Integer({ minimum: 1, maximum: telemetryLimitMax, default: telemetryLimitDefault, description: "page size" }),
    ),
    cursor: t.Optional(
      t.String({
        maxLength: cursorLengthMax,
        description: "next_cursor of the previous page; repeat the other parameters",
      }),
    ),
  });
  const partsReader = new DatapointsPartsReader(context.reader);
  const pages: PageAnswering = {
    cursor: createCursorCodec("telemetry", TelemetryCursorPosition, context.cursorKey),
    cache: new FingerprintedCache({
      name: "telemetry_page",
      entriesMax: pageCacheEntriesMax,
      charsMax: context.limits.telemetryCacheCharsMax,
      entryCharsMax: pageCacheEntryCharsMax,
      registry: context.registry,
    }),
    parts: new SharedRead(() => partsReader.read()),
  };
  return new Elysia({ name: "telemetry-routes" }).use(apiModelsPlugin).get(
    "/api/v1/gpus/:id/telemetry",
    ({ params, query }): Promise<Response> => {
      const reference = parseGpuId(params.id);
      const request: TelemetryRequest = {
        id: params.id,
        reference,
        metrics: parseMetricFilter(query.metric),
        order: query.order ?? "asc",
        limit: query.limit ?? telemetryLimitDefault,
        query,
      };
      return context.queries.run(() => answerTelemetry(context, pages, request));
    },
    {
      ...jsonRoute,
      params: GpuParams,
      query: TelemetryQuery,
      response: { 200: "TelemetryPage", ...errorResponses },
      detail: {
        ...readAccess,
        tags: ["telemetry"],
        summary: "A GPU's datapoints in a time window",
        description:
          "Ordered by (timestamp, metric), ascending unless `order=desc`. Both bounds are inclusive. " +
          "Without bounds the last hour is returned. Walk a window completely by passing `next_cursor` back as `cursor` " +
          "(with the same other parameters) until it is null: no datapoint is skipped or repeated.",
      },
    },
  );
}

interface TelemetryRequest {
  id: string;
  reference: GpuReference;
  metrics: string[];
  order: "asc" | "desc";
  limit: number;
  query: { start_time?: string; end_time?: string; cursor?: string };
}

interface PageAnswering {
  cursor: TelemetryCursorCodec;
  /** Pages by request, kept with the fingerprint of the datapoints parts their window reads. */
  cache: FingerprintedCache;
  /** The datapoints parts, read once for all requests waiting at that moment. */
  parts: SharedRead<DatapointsParts>;
}

/**
 * A request asked before (same GPU, window, filters, page) first reads which parts
 * hold its window (a system.parts query, started after the request arrived and shared
 * with the requests that arrived with it) and is answered from the cache only if that
 * set is the one the kept page was computed from; otherwise the page is queried and
 * kept. So an answer is always as fresh as the query would be, and new rows for other
 * windows do not evict it. A first-time request (every live window ending "now") just
 * queries its page.
 */
async function answerTelemetry(
  context: ApiContext,
  pages: PageAnswering,
  request: TelemetryRequest,
): Promise<Response> {
  const { reference, metrics, order, query } = request;
  // A UUID is looked up only when the page is empty (to tell "no data" from "no GPU").
  const uuid = reference.kind === "uuid" ? reference.uuid : (await lookupGpu(context.clickhouse, request.id)).uuid;
  const check = queryCheck(["telemetry", uuid, query.start_time ?? "", query.end_time ?? "", metrics.join(","), order]);
  const position = query.cursor === undefined ? undefined : pages.cursor.decode(check, query.cursor);
  if (position !== undefined) checkCursorWindow(position, windowLimits(context).windowMsMax);
  const window: TimeWindow = position ?? resolveTimeWindow(query, context.clock(), windowLimits(context));
  // Everything the body depends on, verbatim (the cursor check is a hash and may collide).
  const key = JSON.stringify([
    uuid,
    query.start_time ?? null,
    query.end_time ?? null,
    metrics,
    order,
    window,
    request.limit,
    position?.after ?? null,
  ]);
  // A window the live tail reaches is answered from memory (and ClickHouse before the horizon), never cached.
  const live = context.live?.horizonMs !== undefined && window.endMs >= context.live.horizonMs;
  const fingerprint = !live && pages.cache.wanted(key) ? windowFingerprint(await pages.parts.get(), window) : undefined;
  const kept = fingerprint === undefined ? undefined : pages.cache.get(key, fingerprint);
  if (kept !== undefined) return withSource(jsonResponse(kept), "cache");
  const body = await queryTelemetry(context, pages.cursor, { ...request, uuid, check, window, after: position?.after });
  // An empty page is not kept: whether it should be a 404 depends on the GPU registry, not on these parts.
  // Nor is a page with rows of the live tail: it may lack rows inserted but not yet committed.
  if (fingerprint !== undefined && body.itemCount > 0 && body.source === "clickhouse")
    pages.cache.set(key, fingerprint, body.json);
  return withSource(jsonResponse(body.json), body.source);
}

interface ResolvedTelemetryRequest extends TelemetryRequest {
  uuid: string;
  check: string;
  window: TimeWindow;
  after: TelemetryCursor | undefined;
}

/**
 * The body is typed TelemetryPage but not checked against the schema at run time: its
 * values come from rows queryRows has checked, and the check's 2,000 date-time formats
 * cost ~1 ms a page. Tests check real pages against the schema.
 */
async function queryTelemetry(
  context: ApiContext,
  cursor: TelemetryCursorCodec,
  request: ResolvedTelemetryRequest,
): Promise<{ json: SerializedJson; itemCount: number; source: PageSource }> {
  const { uuid, window, metrics, reference } = request;
  const options: TelemetryPageOptions = {
    uuid,
    startMs: window.startMs,
    endMs: window.endMs,
    metrics: metrics.length === 0 ? undefined : metrics,
    order: request.order,
    limit: request.limit,
    after: request.after,
  };
  const { page, source } =
    context.live === undefined
      ? { page: await telemetryPage(context.reader, options), source: "clickhouse" as const }
      : await liveTelemetryPage(context.reader, context.live, options);
  if (page.rows.length === 0 && request.after === undefined && reference.kind === "uuid") {
    if (context.live?.has(uuid) !== true && (await getGpu(context.clickhouse, uuid)) === undefined)
      throw gpuNotFound(request.id, reference);
  }
  const next_cursor = page.next === undefined ? null : cursor.encode(request.check, { ...window, after: page.next });
  const body: TelemetryPage = {
    gpu: uuid,
    start_time: formatRfc3339(window.startMs),
    end_time: formatRfc3339(window.endMs),
    items: telemetryItems(page.rows),
    next_cursor,
  };
  return { json: { text: JSON.stringify(body) }, itemCount: body.items.length, source };
}

/** Which store answered (memory, ClickHouse, both, the page cache): for operators and benchmarks. */
function withSource(response: Response, source: PageSource | "cache"): Response {
  response.headers.set("x-telemetry-source", source);
  return response;
}

/** A signed cursor carries the window it was minted for; it must still be one this API would serve. */
function checkCursorWindow(position: { startMs: number; endMs: number }, windowMsMax: number): void {
  if (position.startMs > position.endMs) throw badRequest("cursor", "cursor window starts after it ends");
  if (position.endMs - position.startMs > windowMsMax) {
    throw badRequest("cursor", `cursor window is longer than ${windowMsMax / 3_600_000} hours`);
  }
}

export function windowLimits(context: ApiContext) {
  return { windowMsDefault: context.limits.telemetryWindowMsDefault, windowMsMax: context.limits.telemetryWindowMsMax };
}

/** Rows come sorted by time, so consecutive rows mostly share their timestamps: each is formatted once. */
function telemetryItems(rows: readonly TelemetryPointRow[]): TelemetryItem[] {
  const timestamps = new LastFormatted();
  const sourceTimestamps = new LastFormatted();
  return rows.map((row) => ({
    timestamp: timestamps.format(row.ts_ms),
    metric: row.metric,
    value: row.value,
    unit: findMetric(row.metric)?.unit ?? "",
    source_timestamp: sourceTimestamps.format(row.source_ts_ms),
  }));
}

class LastFormatted {
  private epochMs = Number.NaN;
  private text = "";

  format(epochMs: number): string {
    if (epochMs !== this.epochMs) {
      this.epochMs = epochMs;
      this.text = formatRfc3339(epochMs);
    }
    return this.text;
  }
}
