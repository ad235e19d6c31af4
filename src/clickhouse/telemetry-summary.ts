import { type Static, Type } from "@sinclair/typebox";
import { seriesCondition, seriesParams } from "./series-filter.ts";
import { metricsFilterCountMax } from "./telemetry-page.ts";
import { assertLimit, queryRows, type RowsClient } from "./typed-query.ts";

export const summaryAggregations = ["avg", "min", "max", "last"] as const;
export type SummaryAggregation = (typeof summaryAggregations)[number];

export const summaryStepSecondsMin = 1;
export const summaryStepSecondsMax = 31 * 24 * 3600;
/** Buckets per metric in one answer; the API should reject wider requests before calling. */
export const summaryBucketsMax = 10_000;
/** Metrics one GPU reports (dcgm-exporter's defaults are ~30); bounds an unfiltered answer. */
export const summarySeriesMax = 128;
const rollupStepSeconds = 60;

export const SummaryRow = Type.Object({
  metric: Type.String(),
  bucket_ms: Type.Integer({ description: "bucket start, UTC epoch milliseconds" }),
  value: Type.Number(),
  samples: Type.Integer({ minimum: 1 }),
});
export type SummaryRow = Static<typeof SummaryRow>;

export interface SummaryOptions {
  uuid: string;
  /** The MIG instance (GPU_I_ID) to summarize; empty or absent: the GPU's own datapoints. */
  gpuInstance?: string | undefined;
  startMs: number;
  endMs: number;
  stepSeconds: number;
  agg: SummaryAggregation;
  metrics?: readonly string[] | undefined;
  /** Read raw rows even when the rollup applies (checks and debugging). */
  forceRaw?: boolean | undefined;
}

export interface SummaryPlan {
  /** Start of the bucket holding startMs. */
  firstBucketMs: number;
  /** End (exclusive) of the bucket holding endMs. */
  endExclusiveMs: number;
  bucketCount: number;
  source: "rollup" | "raw";
}

export interface Summary extends SummaryPlan {
  rows: SummaryRow[];
}

/**
 * Buckets are aligned to the epoch (multiples of the step) and always whole: every
 * bucket that touches [startMs, endMs] covers its full step. That makes a summary from
 * the per-minute rollup identical to one from raw rows whenever the step is a multiple
 * of a minute, so the rollup is used exactly then.
 */
export function planSummary(
  options: Pick<SummaryOptions, "startMs" | "endMs" | "stepSeconds" | "forceRaw">,
): SummaryPlan {
  const { startMs, endMs, stepSeconds } = options;
  if (!Number.isInteger(stepSeconds) || stepSeconds < summaryStepSecondsMin || stepSeconds > summaryStepSecondsMax) {
    throw new RangeError(
      `summary step must be an integer in [${summaryStepSecondsMin}, ${summaryStepSecondsMax}] s, got ${stepSeconds}`,
    );
  }
  if (!Number.isSafeInteger(startMs) || !Number.isSafeInteger(endMs) || endMs < startMs) {
    throw new RangeError(`summary bounds must be integer milliseconds with start <= end, got ${startMs}..${endMs}`);
  }
  const stepMs = stepSeconds * 1000;
  const firstBucketMs = Math.floor(startMs / stepMs) * stepMs;
  const endExclusiveMs = (Math.floor(endMs / stepMs) + 1) * stepMs;
  const bucketCount = (endExclusiveMs - firstBucketMs) / stepMs;
  if (bucketCount > summaryBucketsMax) {
    throw new RangeError(`summary would have ${bucketCount} buckets, more than summaryBucketsMax ${summaryBucketsMax}`);
  }
  return {
    firstBucketMs,
    endExclusiveMs,
    bucketCount,
    source: stepSeconds % rollupStepSeconds === 0 && options.forceRaw !== true ? "rollup" : "raw",
  };
}

/** The aggregate over raw rows and over rollup rows; `last` is the value at the greatest (ts, value). */
const aggregateSql: Record<"raw" | "rollup", Record<SummaryAggregation, string>> = {
  raw: {
    avg: "avg(value)",
    min: "min(value)",
    max: "max(value)",
    last: "tupleElement(max((ts, value)), 2)",
  },
  rollup: {
    avg: "sum(value_sum) / sum(value_count)",
    min: "min(value_min)",
    max: "max(value_max)",
    last: "tupleElement(max(value_last), 'value')",
  },
};

/** A downsampled series per metric, ordered by metric then bucket. Empty buckets are absent. */
export async function summary(client: RowsClient, options: SummaryOptions): Promise<Summary> {
  const { plan, rows } = await summaries(client, {
    ...options,
    series: [{ uuid: options.uuid, gpuInstance: options.gpuInstance ?? "" }],
  });
  return { ...plan, rows: rows.map(({ uuid: _uuid, gpu_instance: _instance, ...row }) => row) };
}

export const SeriesSummaryRow = Type.Object({
  ...SummaryRow.properties,
  uuid: Type.String(),
  gpu_instance: Type.String(),
});
export type SeriesSummaryRow = Static<typeof SeriesSummaryRow>;

/** GPUs and MIG instances whose summaries one query computes at most. */
export const summarySeriesPerQueryMax = 1_000;

export interface SummariesOptions extends Omit<SummaryOptions, "uuid" | "gpuInstance"> {
  /** Each a GPU (empty gpuInstance) or a MIG instance. */
  series: readonly { uuid: string; gpuInstance: string }[];
}

/**
 * The summaries of several GPUs or MIG instances with the same window, step and
 * aggregate, in one query: rows by uuid, instance, metric, bucket.
 */
export async function summaries(
  client: RowsClient,
  options: SummariesOptions,
): Promise<{ plan: SummaryPlan; rows: SeriesSummaryRow[] }> {
  const plan = planSummary(options);
  const metricCount = options.metrics?.length ?? 0;
  if (metricCount > metricsFilterCountMax) {
    throw new RangeError(`summary metric filter has ${metricCount} names, more than ${metricsFilterCountMax}`);
  }
  assertLimit(options.series.length, summarySeriesPerQueryMax, "summaries series");
  const rowsMax = options.series.length * plan.bucketCount * (options.metrics?.length ?? summarySeriesMax);
  const rows = await queryRows(client, {
    name: `summary from ${plan.source}`,
    sql: plan.source === "rollup" ? rollupSql(options) : rawSql(options),
    params: {
      ...seriesParams(options.series),
      step_s: options.stepSeconds,
      first_ms: plan.firstBucketMs,
      end_exclusive_ms: plan.endExclusiveMs,
      metrics: options.metrics ?? [],
      rows_max: rowsMax + 1,
    },
    row: SeriesSummaryRow,
    rowsMax,
  });
  return { plan, rows };
}

function metricFilter(options: SummariesOptions): string {
  return options.metrics === undefined ? "" : "\n  AND has({metrics:Array(String)}, metric)";
}

function rawSql(options: SummariesOptions): string {
  return `SELECT
    uuid,
    gpu_instance,
    metric,
    intDiv(toUnixTimestamp64Milli(ts), {step_s:UInt32} * 1000) * {step_s:UInt32} * 1000 AS bucket_ms,
    ${aggregateSql.raw[options.agg]} AS value,
    count() AS samples
FROM datapoints
WHERE ${seriesCondition(options.series)}
  AND ts >= fromUnixTimestamp64Milli({first_ms:Int64}, 'UTC')
  AND ts < fromUnixTimestamp64Milli({end_exclusive_ms:Int64}, 'UTC')${metricFilter(options)}
GROUP BY uuid, gpu_instance, metric, bucket_ms
ORDER BY uuid, gpu_instance, metric, bucket_ms
LIMIT {rows_max:UInt32}`;
}

function rollupSql(options: SummariesOptions): string {
  return `SELECT
    uuid,
    toString(gpu_instance) AS gpu_instance,
    metric,
    intDiv(toUnixTimestamp(minute), {step_s:UInt32}) * {step_s:UInt32} * 1000 AS bucket_ms,
    ${aggregateSql.rollup[options.agg]} AS value,
    sum(value_count) AS samples
FROM datapoints_1m
WHERE ${seriesCondition(options.series)}
  AND minute >= toDateTime(intDiv({first_ms:Int64}, 1000), 'UTC')
  AND minute < toDateTime(intDiv({end_exclusive_ms:Int64}, 1000), 'UTC')${metricFilter(options)}
GROUP BY uuid, gpu_instance, metric, bucket_ms
ORDER BY uuid, gpu_instance, metric, bucket_ms
LIMIT {rows_max:UInt32}`;
}
