import { Elysia, t } from "elysia";
import { type SummaryRow, summary } from "../../../src/clickhouse/telemetry-summary.ts";
import { findMetric } from "../../../src/domain/metric-catalog.ts";
import { type ApiContext, apiModelsPlugin, jsonRoute } from "../api-context.ts";
import { errorResponses, readAccess, type TelemetrySummary } from "../api-models.ts";
import { ApiError } from "../errors.ts";
import { lookupSeries } from "../gpu-lookup.ts";
import { parseMetricFilter } from "../metric-filter.ts";
import { formatRfc3339 } from "../time-parsing.ts";
import { resolveTimeWindow, type TimeWindow } from "../time-window.ts";
import { GpuParams } from "./gpu-routes.ts";
import { windowQueryProperties } from "./telemetry-routes.ts";

export const summarySteps = { "10s": 10, "1m": 60, "5m": 300, "1h": 3_600 } as const;
export type SummaryStep = keyof typeof summarySteps;
const stepNames = Object.keys(summarySteps) as SummaryStep[];

/** GET /api/v1/gpus/{id}/telemetry/summary: epoch-aligned buckets per metric, for charts. */
export function summaryRoutes(context: ApiContext) {
  const SummaryQuery = t.Object({
    ...windowQueryProperties(context.limits),
    step: t.Optional(
      t.UnionEnum(stepNames as [SummaryStep, ...SummaryStep[]], {
        default: "1m",
        description: "bucket width; 1m and wider are served from the per-minute rollup",
      }),
    ),
    agg: t.Optional(
      t.UnionEnum(["avg", "min", "max", "last"], {
        default: "avg",
        description: "aggregate per bucket; last is the value of the bucket's newest datapoint",
      }),
    ),
  });
  return new Elysia({ name: "summary-routes" }).use(apiModelsPlugin).get(
    "/api/v1/gpus/:id/telemetry/summary",
    async ({ params, query }): Promise<TelemetrySummary> => {
      const metrics = parseMetricFilter(query.metric);
      const step = query.step ?? "1m";
      const agg = query.agg ?? "avg";
      const window = resolveTimeWindow(query, context.clock(), {
        windowMsDefault: context.limits.telemetryWindowMsDefault,
        windowMsMax: context.limits.summaryWindowMsMax,
      });
      assertBucketCount(window, step, context.limits.summaryBucketsMax);
      const { series, result } = await context.queries.run(async () => {
        const series = await lookupSeries(context.clickhouse, params.id);
        const result = await summary(context.clickhouse, {
          uuid: series.gpu.uuid,
          gpuInstance: series.instance?.gpu_instance,
          startMs: window.startMs,
          endMs: window.endMs,
          stepSeconds: summarySteps[step],
          agg,
          metrics: metrics.length === 0 ? undefined : metrics,
        });
        return { series, result };
      });
      return {
        gpu: series.id,
        step,
        agg,
        source: result.source,
        start_time: formatRfc3339(window.startMs),
        end_time: formatRfc3339(window.endMs),
        series: groupSeries(result.rows),
      };
    },
    {
      ...jsonRoute,
      params: GpuParams,
      query: SummaryQuery,
      response: { 200: "TelemetrySummary", ...errorResponses },
      detail: {
        ...readAccess,
        tags: ["telemetry"],
        summary: "A GPU's (or MIG instance's) downsampled series",
        description:
          "Buckets are aligned to multiples of `step` since the epoch and whole: every bucket touching " +
          "[start_time, end_time] covers its full width. Buckets without data are omitted. " +
          `At most ${context.limits.summaryBucketsMax} buckets per series: widen step or narrow the window.`,
      },
    },
  );
}

/** Buckets touching the window, counted as the store counts them (epoch-aligned, whole). */
export function assertBucketCount(window: TimeWindow, step: SummaryStep, bucketsMax: number): void {
  const stepMs = summarySteps[step] * 1_000;
  const count = Math.floor(window.endMs / stepMs) - Math.floor(window.startMs / stepMs) + 1;
  if (count <= bucketsMax) return;
  const wider = stepNames.find(
    (name) => Math.ceil((window.endMs - window.startMs) / (summarySteps[name] * 1_000)) + 1 <= bucketsMax,
  );
  const hint = wider === undefined ? "narrow start_time..end_time" : `use step=${wider} or narrow the window`;
  throw new ApiError("bad_request", `step=${step} gives ${count} buckets, more than ${bucketsMax}: ${hint}`, [
    { field: "step", problem: `${count} buckets > ${bucketsMax}; ${hint}` },
  ]);
}

export function groupSeries(rows: readonly SummaryRow[]): TelemetrySummary["series"] {
  const series: TelemetrySummary["series"] = [];
  for (const row of rows) {
    let current = series[series.length - 1];
    if (current === undefined || current.metric !== row.metric) {
      current = { metric: row.metric, unit: findMetric(row.metric)?.unit ?? "", points: [] };
      series.push(current);
    }
    current.points.push({ timestamp: formatRfc3339(row.bucket_ms), value: row.value, samples: row.samples });
  }
  return series;
}
