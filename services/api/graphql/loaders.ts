import DataLoader from "dataloader";
import { latestValuesOf } from "../../../src/clickhouse/mig-queries.ts";
import type { SeriesKey } from "../../../src/clickhouse/series-filter.ts";
import {
  type TelemetryPage as RowsPage,
  seriesKeyText,
  telemetryPagesOf,
} from "../../../src/clickhouse/telemetry-page.ts";
import { type SeriesSummaryRow, summaries } from "../../../src/clickhouse/telemetry-summary.ts";
import { findMetric } from "../../../src/domain/metric-catalog.ts";
import type { ApiContext } from "../api-context.ts";
import type { LatestValue, TelemetryPage, TelemetrySummary } from "../api-models.ts";
import { ApiError, badRequest } from "../errors.ts";
import { parseGpuId } from "../gpu-id.ts";
import { seriesName } from "../live/tail-dictionary.ts";
import { parseMetricFilter } from "../metric-filter.ts";
import { assertBucketCount, groupSeries, type SummaryStep, summarySteps } from "../routes/summary-routes.ts";
import {
  pageOptions,
  type ResolvedTelemetryRequest,
  readPage,
  resolveRequest,
  type TelemetryCursorCodec,
  telemetryLimitDefault,
  telemetryLimitMax,
  telemetryPageBody,
  workloadFilterOf,
} from "../routes/telemetry-routes.ts";
import { formatRfc3339 } from "../time-parsing.ts";
import { resolveTimeWindow } from "../time-window.ts";

/**
 * One request's batches: every field of every GPU in a list is loaded through these, so
 * a list costs one ClickHouse query per field (and per distinct arguments), not one per
 * GPU. Keys are series ids (UUID, or UUID:migN), which the resolvers got from the
 * registry; a batch of the same arguments shares one window, read once.
 */

export interface TelemetryArgs {
  start_time?: string;
  end_time?: string;
  metrics?: string[];
  namespace?: string;
  pod?: string;
  container?: string;
  order?: "asc" | "desc";
  limit?: number;
  cursor?: string;
}

export interface SummaryArgs {
  start_time?: string;
  end_time?: string;
  metrics?: string[];
  step?: string;
  agg?: "avg" | "min" | "max" | "last";
}

/** GPUs times buckets one summary field may ask for over a list (ten REST summaries' worth). */
export const summaryBucketSeriesFactor = 10;

export class Loaders {
  readonly latest: DataLoader<string, LatestValue[]>;
  private readonly telemetry = new Map<string, DataLoader<string, TelemetryPage>>();
  private readonly summary = new Map<string, DataLoader<string, TelemetrySummary>>();

  constructor(
    private readonly context: ApiContext,
    private readonly telemetryCursor: TelemetryCursorCodec,
  ) {
    this.latest = new DataLoader((ids) => this.loadLatest(ids));
  }

  telemetryOf(id: string, args: TelemetryArgs): Promise<TelemetryPage> {
    const key = JSON.stringify(args);
    let loader = this.telemetry.get(key);
    if (loader === undefined) {
      loader = new DataLoader((ids) => this.loadTelemetry(ids, args));
      this.telemetry.set(key, loader);
    }
    return loader.load(id);
  }

  summaryOf(id: string, args: SummaryArgs): Promise<TelemetrySummary> {
    const key = JSON.stringify(args);
    let loader = this.summary.get(key);
    if (loader === undefined) {
      loader = new DataLoader((ids) => this.loadSummaries(ids, args));
      this.summary.set(key, loader);
    }
    return loader.load(id);
  }

  private async loadLatest(ids: readonly string[]): Promise<LatestValue[][]> {
    const keys = ids.map(seriesKeyOf);
    const rows = await this.context.queries.run(() => latestValuesOf(this.context.reader, keys));
    const bySeries = new Map<string, LatestValue[]>(keys.map((key) => [seriesKeyText(key), []]));
    for (const row of rows) {
      bySeries.get(`${row.uuid}\n${row.gpu_instance}`)?.push({
        metric: row.metric,
        value: row.value,
        unit: findMetric(row.metric)?.unit ?? "",
        timestamp: formatRfc3339(row.ts_ms),
      });
    }
    return keys.map((key) => bySeries.get(seriesKeyText(key)) ?? []);
  }

  private async loadTelemetry(ids: readonly string[], args: TelemetryArgs): Promise<(TelemetryPage | Error)[]> {
    const limit = args.limit ?? telemetryLimitDefault;
    if (!Number.isInteger(limit) || limit < 1 || limit > telemetryLimitMax) {
      throw badRequest("limit", `must be an integer from 1 to ${telemetryLimitMax}, got ${limit}`);
    }
    if (ids.length * limit > telemetryLimitMax) {
      const problem = `${ids.length} GPUs × limit ${limit} = ${ids.length * limit} datapoints, more than ${telemetryLimitMax} per field; lower limit`;
      throw new ApiError("bad_request", `telemetry over a list asks for too much: ${problem}`, [
        { field: "limit", problem },
      ]);
    }
    const common = {
      metrics: parseMetricFilter(args.metrics),
      workload: workloadFilterOf(args),
      order: args.order ?? "asc",
      limit,
      query: { start_time: args.start_time, end_time: args.end_time, cursor: args.cursor },
    };
    // A cursor fits one series: the others' fail alone, each with its own error.
    const settled = await Promise.allSettled(
      ids.map((id) => resolveRequest(this.context, this.telemetryCursor, { ...common, id, reference: parseGpuId(id) })),
    );
    const resolved = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const pages = await this.readPages(resolved);
    let next = 0;
    return settled.map((result) => {
      if (result.status === "rejected") return asError(result.reason);
      const index = next++;
      return telemetryPageBody(this.telemetryCursor, result.value, pages[index] as RowsPage);
    });
  }

  /**
   * One query for every series without a cursor (a cursor belongs to one series), or the
   * live tail alone when the window lies wholly within it, as the REST route reads it.
   */
  private async readPages(resolved: ResolvedTelemetryRequest[]): Promise<RowsPage[]> {
    const first = resolved[0];
    if (first === undefined) return [];
    const horizonMs = this.context.live?.horizonMs;
    const fromTail = horizonMs !== undefined && first.window.startMs >= horizonMs;
    if (fromTail || first.after !== undefined) {
      return Promise.all(
        resolved.map(async (request) => {
          const options = pageOptions(request, request.limit ?? telemetryLimitDefault, request.after);
          return (await this.context.queries.run(() => readPage(this.context, options))).page;
        }),
      );
    }
    // Resolved in the same tick, the windows are the same but for a millisecond of "now": use the first's.
    const options = pageOptions(first, first.limit ?? telemetryLimitDefault, undefined);
    const series = resolved.map((request) => ({ uuid: request.uuid, gpuInstance: request.gpuInstance }));
    for (const request of resolved) request.window = first.window;
    const pages = await this.context.queries.run(() => telemetryPagesOf(this.context.reader, { ...options, series }));
    return series.map((key) => pages.get(seriesKeyText(key)) ?? { rows: [] });
  }

  private async loadSummaries(ids: readonly string[], args: SummaryArgs): Promise<TelemetrySummary[]> {
    const step = (args.step ?? "1m") as SummaryStep;
    if (!(step in summarySteps)) {
      throw badRequest(
        "step",
        `must be one of ${Object.keys(summarySteps).join(", ")}, got ${JSON.stringify(args.step)}`,
      );
    }
    const agg = args.agg ?? "avg";
    const metrics = parseMetricFilter(args.metrics);
    const limits = this.context.limits;
    const window = resolveTimeWindow(args, this.context.clock(), {
      windowMsDefault: limits.telemetryWindowMsDefault,
      windowMsMax: limits.summaryWindowMsMax,
    });
    assertBucketCount(window, step, limits.summaryBucketsMax);
    const buckets =
      Math.floor(window.endMs / (summarySteps[step] * 1_000)) -
      Math.floor(window.startMs / (summarySteps[step] * 1_000)) +
      1;
    const bucketSeriesMax = limits.summaryBucketsMax * summaryBucketSeriesFactor;
    if (ids.length * buckets > bucketSeriesMax) {
      const problem = `${ids.length} GPUs × ${buckets} buckets, more than ${bucketSeriesMax} per field; widen step or narrow the window`;
      throw new ApiError("bad_request", `summary over a list asks for too much: ${problem}`, [
        { field: "step", problem },
      ]);
    }
    const series = ids.map(seriesKeyOf);
    const result = await this.context.queries.run(() =>
      summaries(this.context.clickhouse, {
        series,
        startMs: window.startMs,
        endMs: window.endMs,
        stepSeconds: summarySteps[step],
        agg,
        metrics: metrics.length === 0 ? undefined : metrics,
      }),
    );
    const bySeries = new Map<string, SeriesSummaryRow[]>();
    for (const row of result.rows) {
      const key = `${row.uuid}\n${row.gpu_instance}`;
      const rows = bySeries.get(key);
      if (rows === undefined) bySeries.set(key, [row]);
      else rows.push(row);
    }
    return series.map((key) => ({
      gpu: seriesName(key.uuid, key.gpuInstance),
      step,
      agg,
      source: result.plan.source,
      start_time: formatRfc3339(window.startMs),
      end_time: formatRfc3339(window.endMs),
      series: groupSeries(bySeries.get(seriesKeyText(key)) ?? []),
    }));
  }
}

/** A node's id (from the registry) as the series it names. */
function seriesKeyOf(id: string): SeriesKey {
  const reference = parseGpuId(id);
  if (reference.kind !== "uuid") throw new Error(`series id ${id} is not a UUID`);
  return { uuid: reference.uuid, gpuInstance: reference.gpuInstance };
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
