import { type Static, Type } from "@sinclair/typebox";
import { metricsFilterCountMax } from "./telemetry-page.ts";
import { assertLimit, queryRows, type RowsClient } from "./typed-query.ts";

/**
 * The latest value of some metrics for every GPU that matches a filter, in one query:
 * the registry (`gpus`) joined with the latest values (`gpu_latest`), both kept by
 * materialized views, so nothing here scans datapoints. What a fleet view needs in
 * one request: placement, workload, last report and the chosen metrics' values.
 */

/** The most GPUs one answer holds; a larger fleet is cut (ordered by host and index) and says so. */
export const fleetGpusMax = 50_000;

export interface FleetFilter {
  hostname?: string | undefined;
  model?: string | undefined;
  namespace?: string | undefined;
  pod?: string | undefined;
}

export interface FleetQueryOptions {
  filter: FleetFilter;
  /** Metrics whose latest values are wanted; empty: every metric each GPU reported. */
  metrics: readonly string[];
  /** GPUs at most; one more is read to tell whether the answer was cut. */
  limit: number;
}

export const FleetRow = Type.Object({
  uuid: Type.String(),
  hostname: Type.String(),
  gpu_index: Type.Integer({ minimum: 0 }),
  model: Type.String(),
  namespace: Type.String(),
  pod: Type.String(),
  container: Type.String(),
  last_seen_ms: Type.Integer(),
  /** Parallel arrays, one entry per metric the GPU has a latest value for, in no particular order. */
  metric_names: Type.Array(Type.String()),
  value_ts_ms: Type.Array(Type.Integer()),
  metric_values: Type.Array(Type.Number()),
});
export type FleetRow = Static<typeof FleetRow>;

const filterColumns = ["hostname", "model", "namespace", "pod"] as const;

/** Rows ordered by (hostname, gpu_index, uuid); `rows.length > limit` means the fleet was cut. */
export async function fleetLatest(client: RowsClient, options: FleetQueryOptions): Promise<FleetRow[]> {
  assertLimit(options.limit, fleetGpusMax, "fleet limit");
  if (options.metrics.length > metricsFilterCountMax) {
    throw new RangeError(`fleet metric filter has ${options.metrics.length} names, more than ${metricsFilterCountMax}`);
  }
  const filters = filterColumns.filter((column) => options.filter[column] !== undefined);
  return queryRows(client, {
    name: "fleet latest",
    sql: fleetSql(filters, options.metrics.length > 0),
    params: {
      metrics: options.metrics,
      limit: options.limit + 1,
      ...Object.fromEntries(filters.map((column) => [column, options.filter[column]])),
    },
    row: FleetRow,
    rowsMax: options.limit + 1,
  });
}

/** Only which filters are present changes the text; every value is a parameter. */
function fleetSql(filters: readonly (typeof filterColumns)[number][], byMetric: boolean): string {
  const having = filters.map((column) => `${column} = {${column}:String}`).join(" AND ");
  return `SELECT
    registry.uuid AS uuid, hostname, gpu_index, model, namespace, pod, container, last_seen_ms,
    latest.metric_names AS metric_names, latest.value_ts_ms AS value_ts_ms, latest.metric_values AS metric_values
FROM (
    SELECT
        uuid,
        tupleElement(max(placement), 'hostname') AS hostname,
        tupleElement(max(placement), 'gpu_index') AS gpu_index,
        tupleElement(max(placement), 'model') AS model,
        tupleElement(max(workload), 'namespace') AS namespace,
        tupleElement(max(workload), 'pod') AS pod,
        tupleElement(max(workload), 'container') AS container,
        toUnixTimestamp64Milli(max(last_seen)) AS last_seen_ms
    FROM gpus
    GROUP BY uuid
    ${having === "" ? "" : `HAVING ${having}`}
    ORDER BY hostname, gpu_index, uuid
    LIMIT {limit:UInt32}
) AS registry
LEFT JOIN (
    SELECT uuid, groupArray(metric) AS metric_names, groupArray(ts_ms) AS value_ts_ms, groupArray(value) AS metric_values
    FROM (
        SELECT uuid, metric,
            toUnixTimestamp64Milli(tupleElement(max(latest), 'ts')) AS ts_ms,
            tupleElement(max(latest), 'value') AS value
        FROM gpu_latest
        ${byMetric ? "WHERE has({metrics:Array(String)}, metric)" : ""}
        GROUP BY uuid, metric
    )
    GROUP BY uuid
) AS latest ON latest.uuid = registry.uuid
ORDER BY hostname, gpu_index, uuid
SETTINGS join_use_nulls = 0`;
}
