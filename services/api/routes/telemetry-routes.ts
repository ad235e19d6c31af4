import { Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { getGpu } from "../../../src/clickhouse/gpu-queries.ts";
import { TelemetryCursor, type TelemetryPointRow, telemetryPage, telemetryPageLimitMax } from "../../../src/clickhouse/telemetry-page.ts";
import { findMetric, metricCatalog } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, type TelemetryItem, type TelemetryPage } from "../api-models.ts";
import { createCursorCodec, cursorLengthMax, queryCheck } from "../cursor-codec.ts";
import { type GpuReference, parseGpuId } from "../gpu-id.ts";
import { gpuNotFound, lookupGpu } from "../gpu-lookup.ts";
import { parseMetricFilter } from "../metric-filter.ts";
import { GpuParams } from "./gpu-routes.ts";
import { formatRfc3339 } from "../time-parsing.ts";
import { describeMs, resolveTimeWindow, type TimeWindow } from "../time-window.ts";

export const telemetryLimitDefault = 1_000;
export const telemetryLimitMax = telemetryPageLimitMax;
const timeTextLengthMax = 64;

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

const telemetryCursor = createCursorCodec(
  "telemetry",
  Type.Object({ after: TelemetryCursor, startMs: Type.Integer({ minimum: 0 }), endMs: Type.Integer({ minimum: 0 }) }),
);

/** GET /api/v1/gpus/{id}/telemetry: one GPU's datapoints in a window, keyset-paginated. */
export function telemetryRoutes(context: ApiContext) {
  const TelemetryQuery = t.Object({
    ...windowQueryProperties(context.limits),
    order: t.Optional(
      t.Union([t.Literal("asc"), t.Literal("desc")], { default: "asc", description: "by time; asc is oldest first" }),
    ),
    limit: t.Optional(
      t.Integer({ minimum: 1, maximum: telemetryLimitMax, default: telemetryLimitDefault, description: "page size" }),
    ),
    cursor: t.Optional(
      t.String({ maxLength: cursorLengthMax, description: "next_cursor of the previous page; repeat the other parameters" }),
    ),
  });
  return new Elysia({ name: "telemetry-routes" }).use(apiModelsPlugin).get(
    "/api/v1/gpus/:id/telemetry",
    ({ params, query }): Promise<TelemetryPage> => {
      const reference = parseGpuId(params.id);
      const request: TelemetryRequest = {
        id: params.id,
        reference,
        metrics: parseMetricFilter(query.metric),
        order: query.order ?? "asc",
        limit: query.limit ?? telemetryLimitDefault,
        query,
      };
      return context.queries.run(() => answerTelemetry(context, request));
    },
    {
      ...jsonRoute,
      params: GpuParams,
      query: TelemetryQuery,
      response: { 200: "TelemetryPage", ...errorResponses },
      detail: {
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

async function answerTelemetry(context: ApiContext, request: TelemetryRequest): Promise<TelemetryPage> {
  const { reference, metrics, order, query } = request;
  // A UUID is looked up only when the page is empty (to tell "no data" from "no GPU").
  const uuid = reference.kind === "uuid" ? reference.uuid : (await lookupGpu(context.clickhouse, request.id)).uuid;
  const check = queryCheck(["telemetry", uuid, query.start_time ?? "", query.end_time ?? "", metrics.join(","), order]);
  const position = query.cursor === undefined ? undefined : telemetryCursor.decode(check, query.cursor);
  const window: TimeWindow = position ?? resolveTimeWindow(query, context.clock(), windowLimits(context));
  const page = await telemetryPage(context.clickhouse, {
    uuid,
    startMs: window.startMs,
    endMs: window.endMs,
    metrics: metrics.length === 0 ? undefined : metrics,
    order,
    limit: request.limit,
    after: position?.after,
  });
  if (page.rows.length === 0 && position === undefined && reference.kind === "uuid") {
    if ((await getGpu(context.clickhouse, uuid)) === undefined) throw gpuNotFound(request.id, reference);
  }
  const next_cursor = page.next === undefined ? null : telemetryCursor.encode(check, { ...window, after: page.next });
  return {
    gpu: uuid,
    start_time: formatRfc3339(window.startMs),
    end_time: formatRfc3339(window.endMs),
    items: page.rows.map(telemetryItem),
    next_cursor,
  };
}

export function windowLimits(context: ApiContext) {
  return { windowMsDefault: context.limits.telemetryWindowMsDefault, windowMsMax: context.limits.telemetryWindowMsMax };
}

function telemetryItem(row: TelemetryPointRow): TelemetryItem {
  return {
    timestamp: formatRfc3339(row.ts_ms),
    metric: row.metric,
    value: row.value,
    unit: findMetric(row.metric)?.unit ?? "",
    source_timestamp: formatRfc3339(row.source_ts_ms),
  };
}
