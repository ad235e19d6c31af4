import { Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { getGpu } from "../../../src/clickhouse/gpu-queries.ts";
import { getMigInstance } from "../../../src/clickhouse/mig-queries.ts";
import {
  type DatapointsParts,
  DatapointsPartsReader,
  windowFingerprint,
} from "../../../src/clickhouse/parts-fingerprint.ts";
import {
  TelemetryCursor,
  type TelemetryPageOptions,
  type TelemetryPointRow,
  type TelemetryPage as TelemetryRowsPage,
  telemetryPage,
  telemetryPageLimitMax,
} from "../../../src/clickhouse/telemetry-page.ts";
import { type WorkloadFilter, workloadFields } from "../../../src/clickhouse/workload-filter.ts";
import { findMetric } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { readAccess, type TelemetryItem, type TelemetryPage } from "../api-models.ts";
import { type CursorCodec, createCursorCodec, cursorLengthMax, queryCheck } from "../cursor-codec.ts";
import { badRequest } from "../errors.ts";
import { FingerprintedCache } from "../fingerprinted-cache.ts";
import { type GpuReference, parseGpuId } from "../gpu-id.ts";
import { gpuNotFound, lookupGpu } from "../gpu-lookup.ts";
import { liveTelemetryPage, type PageSource } from "../live/live-window.ts";
import { seriesName } from "../live/tail-dictionary.ts";
import { metricFilterCountMax, parseMetricFilter } from "../metric-filter.ts";
import { jsonResponse, type SerializedJson } from "../serialized-json.ts";
import { SharedRead } from "../shared-read.ts";
import { type ExportFormat, exportFormatOf, exportResponses, exportTelemetry } from "../telemetry-export.ts";
import { epochMsMax, epochMsMin, formatRfc3339, timeParameterDescription } from "../time-parsing.ts";
import { describeMs, resolveTimeWindow, type TimeWindow } from "../time-window.ts";
import { GpuParams } from "./gpu-routes.ts";

export const telemetryLimitDefault = 1_000;
export const telemetryLimitMax = telemetryPageLimitMax;
const timeTextLengthMax = 64;
const pageCacheEntriesMax = 10_000;
/** A page of telemetryLimitMax items is about 1.3 M characters; larger answers are not kept. */
const pageCacheEntryCharsMax = 2_000_000;

/** start_time, end_time and metric: shared with the summary route. */
export const windowQueryProperties = (limits: ApiContext["limits"]) => ({
  start_time: t.Optional(
    t.String({
      maxLength: timeTextLengthMax,
      description: `${timeParameterDescription("Window start")}. Default: end_time − ${describeMs(limits.telemetryWindowMsDefault)}.`,
    }),
  ),
  end_time: t.Optional(
    t.String({
      maxLength: timeTextLengthMax,
      description: `${timeParameterDescription("Window end")}. Default: now. At most ${describeMs(limits.telemetryWindowMsMax)} after start_time.`,
    }),
  ),
  metric: t.Optional(
    t.Array(t.String({ maxLength: 128 }), {
      maxItems: metricFilterCountMax,
      description:
        "Only these DCGM fields (any DCGM_FI_* name, or a name of the catalog); repeat the parameter or separate names with commas. Default: all.",
    }),
  ),
});

const workloadText = (description: string) =>
  t.Optional(t.String({ maxLength: 256, description: `${description} (exact match; empty: none)` }));

/** Only the datapoints measured for a Kubernetes workload. */
export const workloadQueryProperties = {
  namespace: workloadText("Only datapoints measured while a pod of this namespace used the GPU"),
  pod: workloadText("Only datapoints measured while this pod used the GPU"),
  container: workloadText("Only datapoints measured for this container"),
};

const TelemetryCursorPosition = Type.Object({
  after: TelemetryCursor,
  startMs: Type.Integer({ minimum: epochMsMin, maximum: epochMsMax }),
  endMs: Type.Integer({ minimum: epochMsMin, maximum: epochMsMax }),
});
export type TelemetryCursorCodec = CursorCodec<typeof TelemetryCursorPosition>;

/** The telemetry cursors, shared by REST and GraphQL. */
export function telemetryCursorCodec(key: Uint8Array): TelemetryCursorCodec {
  return createCursorCodec("telemetry", TelemetryCursorPosition, key);
}

/** GET /api/v1/gpus/{id}/telemetry: one GPU's datapoints in a window, keyset-paginated, or exported whole. */
export function telemetryRoutes(context: ApiContext) {
  const exportRowsMax = context.limits.exportRowsMax;
  const TelemetryQuery = t.Object({
    ...windowQueryProperties(context.limits),
    ...workloadQueryProperties,
    order: t.Optional(t.UnionEnum(["asc", "desc"], { default: "asc", description: "by time; asc is oldest first" })),
    limit: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: Math.max(telemetryLimitMax, exportRowsMax),
        description:
          `JSON: page size, at most ${telemetryLimitMax} (default ${telemetryLimitDefault}). ` +
          `NDJSON and CSV: rows at most, up to ${exportRowsMax} (default: the whole window, which must then hold at most ${exportRowsMax}).`,
      }),
    ),
    cursor: t.Optional(
      t.String({
        maxLength: cursorLengthMax,
        description: "next_cursor of the previous page; repeat the other parameters",
      }),
    ),
    // No default (UnionEnum's is its first value): without `format`, Accept decides.
    format: t.Optional(
      t.UnionEnum(["json", "ndjson", "csv"], {
        default: undefined,
        description:
          "json: a page (default); ndjson or csv: the window streamed whole, one datapoint a line. " +
          "Without it, an Accept of application/x-ndjson or text/csv chooses the export.",
      }),
    ),
  });
  const partsReader = new DatapointsPartsReader(context.reader);
  const pages: PageAnswering = {
    cursor: telemetryCursorCodec(context.cursorKey),
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
    async ({ params, query, request }): Promise<Response> => {
      const format = exportFormatOf(query.format, request.headers.get("accept"));
      const telemetry: TelemetryRequest = {
        id: params.id,
        reference: parseGpuId(params.id),
        metrics: parseMetricFilter(query.metric),
        workload: workloadFilterOf(query),
        order: query.order ?? "asc",
        limit: query.limit ?? (format === "json" ? telemetryLimitDefault : undefined),
        query,
      };
      if (format === "json") return context.queries.run(() => answerTelemetry(context, pages, telemetry));
      return exportWindow(context, pages.cursor, telemetry, format);
    },
    {
      ...jsonRoute,
      params: GpuParams,
      query: TelemetryQuery,
      // Documented by hand (exportResponses): a `response` schema would leave out the NDJSON and CSV answers.
      detail: {
        ...readAccess,
        tags: ["telemetry"],
        summary: "A GPU's (or MIG instance's) datapoints in a time window; NDJSON and CSV exports",
        description:
          "Ordered by (timestamp, metric), ascending unless `order=desc`. Both bounds are inclusive. " +
          "Without bounds the last hour is returned. Walk a window completely by passing `next_cursor` back as `cursor` " +
          "(with the same other parameters) until it is null: no datapoint is skipped or repeated. " +
          "`format=ndjson` or `format=csv` (or the matching Accept) streams the window instead, in the same order, " +
          `one datapoint a line, at most ${exportRowsMax} rows: without \`limit\` a window that holds more is a 400, ` +
          "with it the export stops after `limit` rows. An export that fails midway is cut off without its final " +
          "chunk, so a client sees an incomplete transfer rather than a short file.",
        responses: exportResponses(),
      },
    },
  );
}

export function workloadFilterOf(query: Partial<Record<(typeof workloadFields)[number], string>>): WorkloadFilter {
  const filter: WorkloadFilter = {};
  for (const field of workloadFields) if (query[field] !== undefined) filter[field] = query[field];
  return filter;
}

export interface TelemetryRequest {
  id: string;
  reference: GpuReference;
  metrics: string[];
  workload: WorkloadFilter;
  order: "asc" | "desc";
  /** Page size (JSON), or the most rows an export may stream (undefined: the whole window). */
  limit: number | undefined;
  query: { start_time?: string; end_time?: string; cursor?: string };
}

interface PageAnswering {
  cursor: TelemetryCursorCodec;
  /** Pages by request, kept with the fingerprint of the datapoints parts their window reads. */
  cache: FingerprintedCache;
  /** The datapoints parts, read once for all requests waiting at that moment. */
  parts: SharedRead<DatapointsParts>;
}

export interface ResolvedTelemetryRequest extends TelemetryRequest {
  uuid: string;
  gpuInstance: string;
  check: string;
  window: TimeWindow;
  after: TelemetryCursor | undefined;
}

/**
 * The GPU, the window (from the cursor, or the bounds and now) and the cursor's position.
 * A UUID is looked up only when the page is empty (to tell "no data" from "no GPU").
 */
export async function resolveRequest(
  context: ApiContext,
  codec: TelemetryCursorCodec,
  request: TelemetryRequest,
): Promise<ResolvedTelemetryRequest> {
  const { reference, metrics, order, query, workload } = request;
  const uuid = reference.kind === "uuid" ? reference.uuid : (await lookupGpu(context.clickhouse, request.id)).uuid;
  const gpuInstance = reference.gpuInstance;
  const workloadKey = workloadFields.map((field) => workload[field] ?? "\u0000").join("\u0001");
  const check = queryCheck([
    "telemetry",
    seriesName(uuid, gpuInstance),
    query.start_time ?? "",
    query.end_time ?? "",
    metrics.join(","),
    order,
    workloadKey,
  ]);
  const position = query.cursor === undefined ? undefined : codec.decode(check, query.cursor);
  if (position !== undefined) checkCursorWindow(position, windowLimits(context).windowMsMax);
  const window: TimeWindow = position ?? resolveTimeWindow(query, context.clock(), windowLimits(context));
  return { ...request, uuid, gpuInstance, check, window, after: position?.after };
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
  if (request.limit !== undefined && request.limit > telemetryLimitMax) {
    throw badRequest(
      "limit",
      `a JSON page holds at most ${telemetryLimitMax} datapoints; use format=ndjson or csv for more`,
    );
  }
  const resolved = await resolveRequest(context, pages.cursor, request);
  const { window } = resolved;
  // Everything the body depends on, verbatim (the cursor check is a hash and may collide).
  const key = JSON.stringify([
    resolved.uuid,
    resolved.gpuInstance,
    request.query.start_time ?? null,
    request.query.end_time ?? null,
    request.metrics,
    request.workload,
    request.order,
    window,
    request.limit,
    resolved.after ?? null,
  ]);
  // A window the live tail reaches is answered from memory (and ClickHouse before the horizon), never cached.
  const live = context.live?.horizonMs !== undefined && window.endMs >= context.live.horizonMs;
  const fingerprint = !live && pages.cache.wanted(key) ? windowFingerprint(await pages.parts.get(), window) : undefined;
  const kept = fingerprint === undefined ? undefined : pages.cache.get(key, fingerprint);
  if (kept !== undefined) return withSource(jsonResponse(kept), "cache");
  const body = await queryTelemetry(context, pages.cursor, resolved);
  // An empty page is not kept: whether it should be a 404 depends on the GPU registry, not on these parts.
  // Nor is a page with rows of the live tail: it may lack rows inserted but not yet committed.
  if (fingerprint !== undefined && body.itemCount > 0 && body.source === "clickhouse")
    pages.cache.set(key, fingerprint, body.json);
  return withSource(jsonResponse(body.json), body.source);
}

export function pageOptions(request: ResolvedTelemetryRequest, limit: number, after: TelemetryCursor | undefined) {
  const options: TelemetryPageOptions = {
    uuid: request.uuid,
    gpuInstance: request.gpuInstance,
    workload: request.workload,
    startMs: request.window.startMs,
    endMs: request.window.endMs,
    metrics: request.metrics.length === 0 ? undefined : request.metrics,
    order: request.order,
    limit,
    after,
  };
  return options;
}

/** One page as the live tail and ClickHouse together (or ClickHouse alone) cut it. */
export async function readPage(
  context: ApiContext,
  options: TelemetryPageOptions,
): Promise<{ page: TelemetryRowsPage; source: PageSource }> {
  return context.live === undefined
    ? { page: await telemetryPage(context.reader, options), source: "clickhouse" }
    : await liveTelemetryPage(context.reader, context.live, options);
}

/** An empty first page of an unknown GPU or MIG instance is a 404, not an empty page. */
async function assertSeriesExists(context: ApiContext, request: ResolvedTelemetryRequest): Promise<void> {
  if (request.reference.kind !== "uuid") return;
  if (context.live?.has(seriesName(request.uuid, request.gpuInstance)) === true) return;
  const known =
    request.gpuInstance === ""
      ? await getGpu(context.clickhouse, request.uuid)
      : await getMigInstance(context.reader, { uuid: request.uuid, gpuInstance: request.gpuInstance });
  if (known === undefined) throw gpuNotFound(request.id, request.reference);
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
  const { page, source } = await readPage(context, pageOptions(request, request.limit ?? 1, request.after));
  if (page.rows.length === 0 && request.after === undefined) await assertSeriesExists(context, request);
  const body = telemetryPageBody(cursor, request, page);
  return { json: { text: JSON.stringify(body) }, itemCount: body.items.length, source };
}

export function telemetryPageBody(
  cursor: TelemetryCursorCodec,
  request: ResolvedTelemetryRequest,
  page: TelemetryRowsPage,
): TelemetryPage {
  const { window } = request;
  const next_cursor = page.next === undefined ? null : cursor.encode(request.check, { ...window, after: page.next });
  return {
    gpu: seriesName(request.uuid, request.gpuInstance),
    start_time: formatRfc3339(window.startMs),
    end_time: formatRfc3339(window.endMs),
    items: telemetryItems(page.rows),
    next_cursor,
  };
}

/** The window (from the cursor on, when given) streamed page by page as NDJSON or CSV. */
async function exportWindow(
  context: ApiContext,
  codec: TelemetryCursorCodec,
  request: TelemetryRequest,
  format: Exclude<ExportFormat, "json">,
): Promise<Response> {
  const resolved = await context.queries.run(() => resolveRequest(context, codec, request));
  return exportTelemetry(context, {
    format,
    gpu: seriesName(resolved.uuid, resolved.gpuInstance),
    window: resolved.window,
    rowsMax: request.limit,
    options: (limit, after) => pageOptions(resolved, limit, after ?? resolved.after),
    readPage: (options) => readPage(context, options),
    assertExists: () => assertSeriesExists(context, resolved),
    items: telemetryItems,
  });
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
export function telemetryItems(rows: readonly TelemetryPointRow[]): TelemetryItem[] {
  const timestamps = new LastFormatted();
  const sourceTimestamps = new LastFormatted();
  return rows.map((row) => ({
    timestamp: timestamps.format(row.ts_ms),
    metric: row.metric,
    value: row.value,
    unit: findMetric(row.metric)?.unit ?? "",
    source_timestamp: sourceTimestamps.format(row.source_ts_ms),
    namespace: row.namespace,
    pod: row.pod,
    container: row.container,
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
