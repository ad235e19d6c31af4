import { type Static, Type } from "@sinclair/typebox";
import { type SeriesKey, seriesCondition, seriesParams } from "./series-filter.ts";
import { assertLimit, queryRows, type RowsClient } from "./typed-query.ts";
import { type WorkloadFilter, workloadFields, workloadParams } from "./workload-filter.ts";

export const telemetryPageLimitMax = 10_000;
export const metricsFilterCountMax = 64;

/**
 * One datapoint as the API serves it, with the Kubernetes workload it was measured for.
 * Pages are in the total order (ts, metric, source_ts, value), ascending or descending.
 * Two rows equal in all four fields are not collapsed (each was a record), and the
 * cursor counts how many of them it has passed (`skip`).
 */
export const TelemetryPointRow = Type.Object({
  ts_ms: Type.Integer(),
  metric: Type.String(),
  value: Type.Number(),
  source_ts_ms: Type.Integer(),
  namespace: Type.String(),
  pod: Type.String(),
  container: Type.String(),
});
export type TelemetryPointRow = Static<typeof TelemetryPointRow>;

/** Where the previous page ended: its last row's key and how many rows with that key it returned. */
export const TelemetryCursor = Type.Object({
  tsMs: Type.Integer({ minimum: 0 }),
  metric: Type.String(),
  sourceTsMs: Type.Integer({ minimum: 0 }),
  value: Type.Number(),
  skip: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
});
export type TelemetryCursor = Static<typeof TelemetryCursor>;

export interface TelemetryPageOptions {
  uuid: string;
  /** The MIG instance (GPU_I_ID) whose datapoints to read; empty or absent: the GPU's own. */
  gpuInstance?: string | undefined;
  /** Only datapoints measured for this workload (exact values; empty means none). */
  workload?: WorkloadFilter | undefined;
  /** Inclusive bounds, UTC epoch milliseconds. */
  startMs: number;
  endMs: number;
  metrics?: readonly string[] | undefined;
  order: "asc" | "desc";
  limit: number;
  after?: TelemetryCursor | undefined;
}

export interface TelemetryPage {
  rows: TelemetryPointRow[];
  /** Absent on the last page. */
  next?: TelemetryCursor;
}

/**
 * One page of a GPU's datapoints in [startMs, endMs]. Keyset pagination: the query
 * starts at the cursor's key (inclusive) and skips the `skip` rows equal to it that the
 * previous pages returned, so a window is walked with no gap and no repeat however
 * many rows share a millisecond. One extra row is read to know whether a next page exists.
 */
export async function telemetryPage(client: RowsClient, options: TelemetryPageOptions): Promise<TelemetryPage> {
  return finishTelemetryPage(await telemetryRows(client, options), options.limit, options.after);
}

/** The rows a page is cut from: up to `limit + 1` in page order after the cursor. */
export async function telemetryRows(client: RowsClient, options: TelemetryPageOptions): Promise<TelemetryPointRow[]> {
  assertPageOptions(options);
  return queryRows(client, {
    name: "telemetry page",
    sql: pageSql(options),
    params: pageParams(options),
    row: TelemetryPointRow,
    rowsMax: options.limit + 1,
  });
}

/**
 * A page from up to `limit + 1` rows in page order that follow `after`: the extra row
 * only says a next page exists. Other sources of the same rows (the API's in-memory
 * tail) cut their pages here too, so cursors mean the same whoever answered.
 */
export function finishTelemetryPage(
  rows: TelemetryPointRow[],
  limit: number,
  after: TelemetryCursor | undefined,
): TelemetryPage {
  if (rows.length > limit + 1) throw new Error(`telemetry page got ${rows.length} rows for limit ${limit}`);
  if (rows.length <= limit) return { rows };
  rows.length = limit;
  return { rows, next: nextCursor(rows, after) };
}

/**
 * How many datapoints a window holds for these filters (the cursor aside): what an
 * export checks against its bound before it starts.
 */
export async function telemetryRowCount(client: RowsClient, options: TelemetryPageOptions): Promise<number> {
  assertPageOptions(options);
  const rows = await queryRows(client, {
    name: "telemetry row count",
    sql: `SELECT count() AS n FROM datapoints WHERE ${windowConditions(options).join("\n  AND ")}`,
    params: pageParams(options),
    row: CountRow,
    rowsMax: 1,
  });
  return rows[0]?.n ?? 0;
}

const CountRow = Type.Object({ n: Type.Integer({ minimum: 0 }) });

/** The GPU or instance, the window and the filters; the cursor's keyset comes on top. */
function windowConditions(options: TelemetryPageOptions): string[] {
  return ["uuid = {uuid:String}", "gpu_instance = {gpu_instance:String}", ...filterConditions(options)];
}

/** The window, metrics and workload, whatever the series. */
function filterConditions(options: Omit<TelemetryPageOptions, "uuid">): string[] {
  const conditions = [
    "ts >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')",
    "ts <= fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')",
  ];
  if (options.metrics !== undefined) conditions.push("has({metrics:Array(String)}, metric)");
  for (const field of workloadFields) {
    if (options.workload?.[field] !== undefined) conditions.push(`${field} = {${field}:String}`);
  }
  return conditions;
}

function pageSql(options: TelemetryPageOptions): string {
  const direction = options.order === "asc" ? "ASC" : "DESC";
  const from = options.order === "asc" ? ">=" : "<=";
  const conditions = windowConditions(options);
  if (options.after !== undefined) {
    // The ts condition alone lets the primary key skip granules; the tuple is the exact keyset.
    conditions.push(`ts ${from} fromUnixTimestamp64Milli({after_ts_ms:Int64}, 'UTC')`);
    conditions.push(
      `(ts, metric, source_ts, value) ${from} (fromUnixTimestamp64Milli({after_ts_ms:Int64}, 'UTC'), ` +
        "{after_metric:String}, fromUnixTimestamp64Milli({after_source_ts_ms:Int64}, 'UTC'), {after_value:Float64})",
    );
  }
  return `SELECT
    toUnixTimestamp64Milli(ts) AS ts_ms,
    metric,
    value,
    toUnixTimestamp64Milli(source_ts) AS source_ts_ms,
    namespace,
    pod,
    container
FROM datapoints
WHERE ${conditions.join("\n  AND ")}
ORDER BY ts ${direction}, metric ${direction}, source_ts ${direction}, value ${direction}
LIMIT {skip:UInt64}, {limit:UInt32}
SETTINGS ${pageSettings}`;
}

/**
 * A page reads a few granules of every part its window touches and decodes them
 * (DoubleDelta/Gorilla + ZSTD); the uncompressed cache keeps the decoded blocks of
 * recent windows in memory (parts never change, so it cannot be stale). One thread:
 * a page is small, and threads started per query cost more than they save when
 * many pages run at once.
 */
const pageSettings = "use_uncompressed_cache = 1, max_threads = 1";

function pageParams(options: TelemetryPageOptions): Record<string, unknown> {
  return {
    uuid: options.uuid,
    gpu_instance: options.gpuInstance ?? "",
    ...workloadParams(options.workload ?? {}),
    start_ms: options.startMs,
    end_ms: options.endMs,
    metrics: options.metrics ?? [],
    after_ts_ms: options.after?.tsMs ?? 0,
    after_metric: options.after?.metric ?? "",
    after_source_ts_ms: options.after?.sourceTsMs ?? 0,
    after_value: options.after?.value ?? 0,
    skip: options.after?.skip ?? 0,
    limit: options.limit + 1,
  };
}

/** The trailing rows equal to the last one, plus the previous cursor's count if the whole page sat on its key. */
function nextCursor(rows: readonly TelemetryPointRow[], previous: TelemetryCursor | undefined): TelemetryCursor {
  const last = rows[rows.length - 1];
  if (last === undefined) throw new Error("nextCursor: empty page");
  let equal = 0;
  for (let index = rows.length - 1; index >= 0 && sameKey(rows[index], last); index -= 1) equal += 1;
  const cursor = {
    tsMs: last.ts_ms,
    metric: last.metric,
    sourceTsMs: last.source_ts_ms,
    value: last.value,
    skip: equal,
  };
  if (previous !== undefined && equal === rows.length && sameCursorKey(previous, cursor)) cursor.skip += previous.skip;
  return cursor;
}

function sameKey(row: TelemetryPointRow | undefined, last: TelemetryPointRow): boolean {
  if (row === undefined) return false;
  return (
    row.ts_ms === last.ts_ms &&
    row.metric === last.metric &&
    row.source_ts_ms === last.source_ts_ms &&
    row.value === last.value
  );
}

function sameCursorKey(a: TelemetryCursor, b: TelemetryCursor): boolean {
  return a.tsMs === b.tsMs && a.metric === b.metric && a.sourceTsMs === b.sourceTsMs && a.value === b.value;
}

function assertPageOptions(options: TelemetryPageOptions): void {
  assertLimit(options.limit, telemetryPageLimitMax, "telemetry page limit");
  if (!Number.isSafeInteger(options.startMs) || !Number.isSafeInteger(options.endMs)) {
    throw new RangeError(
      `telemetry page bounds must be integer milliseconds, got ${options.startMs}..${options.endMs}`,
    );
  }
  if (options.endMs < options.startMs) {
    throw new RangeError(`telemetry page end ${options.endMs} is before start ${options.startMs}`);
  }
  const metricCount = options.metrics?.length ?? 0;
  if (metricCount > metricsFilterCountMax) {
    throw new RangeError(`telemetry page metric filter has ${metricCount} names, more than ${metricsFilterCountMax}`);
  }
  if (options.after !== undefined && !Number.isFinite(options.after.value)) {
    throw new RangeError(`telemetry cursor value must be finite, got ${options.after.value}`);
  }
}

/** GPUs and MIG instances one batched page query reads at most. */
export const telemetrySeriesPerQueryMax = 1_000;

export const SeriesTelemetryRow = Type.Object({
  ...TelemetryPointRow.properties,
  uuid: Type.String(),
  gpu_instance: Type.String(),
});

export interface TelemetryPagesOptions extends Omit<TelemetryPageOptions, "uuid" | "gpuInstance" | "after"> {
  series: readonly SeriesKey[];
}

/**
 * The first page of the same window, filters, order and limit for several GPUs or MIG
 * instances, in one query (LIMIT … BY series): what a GraphQL list asks for. Pages are
 * cut as telemetryPage cuts them, keyed by `uuid\ngpu_instance`.
 */
export async function telemetryPagesOf(
  client: RowsClient,
  options: TelemetryPagesOptions,
): Promise<Map<string, TelemetryPage>> {
  assertLimit(options.series.length, telemetrySeriesPerQueryMax, "telemetry pages series");
  const first = options.series[0] as SeriesKey;
  assertPageOptions({ ...options, uuid: first.uuid, gpuInstance: first.gpuInstance });
  const direction = options.order === "asc" ? "ASC" : "DESC";
  const conditions = filterConditions(options);
  const rowsMax = options.series.length * (options.limit + 1);
  const rows = await queryRows(client, {
    name: "telemetry pages",
    sql: `SELECT
    uuid,
    toString(gpu_instance) AS gpu_instance,
    toUnixTimestamp64Milli(ts) AS ts_ms,
    metric,
    value,
    toUnixTimestamp64Milli(source_ts) AS source_ts_ms,
    namespace,
    pod,
    container
FROM datapoints
WHERE ${seriesCondition(options.series)}
  AND ${conditions.join("\n  AND ")}
ORDER BY uuid, gpu_instance, ts ${direction}, metric ${direction}, source_ts ${direction}, value ${direction}
LIMIT {per_series:UInt32} BY uuid, gpu_instance
LIMIT {rows_max:UInt32}
SETTINGS ${pageSettings}`,
    params: {
      ...pageParams({ ...options, uuid: "", gpuInstance: "" }),
      ...seriesParams(options.series),
      per_series: options.limit + 1,
      rows_max: rowsMax,
    },
    row: SeriesTelemetryRow,
    rowsMax,
  });
  const bySeries = new Map<string, TelemetryPointRow[]>(options.series.map((key) => [seriesKeyText(key), []]));
  for (const { uuid, gpu_instance, ...row } of rows) bySeries.get(`${uuid}\n${gpu_instance}`)?.push(row);
  return new Map(
    [...bySeries].map(([key, seriesRows]) => [key, finishTelemetryPage(seriesRows, options.limit, undefined)]),
  );
}

export function seriesKeyText(key: SeriesKey): string {
  return `${key.uuid}\n${key.gpuInstance}`;
}
