import { type Static, Type } from "@sinclair/typebox";
import { migInstancesPerGpuMax } from "./mig-queries.ts";
import { metricsFilterCountMax } from "./telemetry-page.ts";
import { assertLimit, queryRows, type RowsClient } from "./typed-query.ts";
import { migWorkloadsJoin, type WorkloadFilter, workloadCondition, workloadParams } from "./workload-filter.ts";

/**
 * The latest value of some metrics for every GPU that matches a filter, in one query:
 * the registry (`gpus`) joined with the latest values (`gpu_latest`), both kept by
 * materialized views, so nothing here scans datapoints. What a fleet view needs in
 * one request: placement, workload, last report and the chosen metrics' values.
 */

/** The most GPUs one answer holds; a larger fleet is cut (ordered by host and index) and says so. */
export const fleetGpusMax = 50_000;

export interface FleetFilter extends WorkloadFilter {
  hostname?: string | undefined;
  model?: string | undefined;
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

const placementColumns = ["hostname", "model"] as const;

/** Rows ordered by (hostname, gpu_index, uuid); `rows.length > limit` means the fleet was cut. */
export async function fleetLatest(client: RowsClient, options: FleetQueryOptions): Promise<FleetRow[]> {
  assertFleetOptions(options);
  return queryRows(client, {
    name: "fleet latest",
    sql: `SELECT
    registry.uuid AS uuid, hostname, gpu_index, model, namespace, pod, container, last_seen_ms,
    latest.metric_names AS metric_names, latest.value_ts_ms AS value_ts_ms, latest.metric_values AS metric_values
FROM (${registrySql(options.filter)}) AS registry
LEFT JOIN (${latestSql(options.metrics.length > 0, "uuid")}) AS latest ON latest.uuid = registry.uuid
ORDER BY hostname, gpu_index, uuid
SETTINGS join_use_nulls = 0`,
    params: fleetParams(options),
    row: FleetRow,
    rowsMax: options.limit + 1,
  });
}

export const FleetMigRow = Type.Object({
  uuid: Type.String(),
  gpu_instance: Type.String({ minLength: 1 }),
  profile: Type.String(),
  namespace: Type.String(),
  pod: Type.String(),
  container: Type.String(),
  last_seen_ms: Type.Integer(),
  metric_names: Type.Array(Type.String()),
  value_ts_ms: Type.Array(Type.Integer()),
  metric_values: Type.Array(Type.Number()),
});
export type FleetMigRow = Static<typeof FleetMigRow>;

/**
 * Every MIG instance with the latest values of the chosen metrics, ordered by uuid and
 * GPU_I_ID; the caller keeps those of the GPUs fleetLatest returned. Reading them all
 * costs what the instances are (none on a fleet without MIG), where picking the
 * matching GPUs again would run the registry's aggregation a second time.
 */
export async function fleetMigInstances(
  client: RowsClient,
  options: Pick<FleetQueryOptions, "metrics">,
): Promise<FleetMigRow[]> {
  assertFleetOptions({ ...options, filter: {}, limit: 1 });
  const rowsMax = fleetGpusMax * migInstancesPerGpuMax;
  return queryRows(client, {
    name: "fleet mig instances",
    sql: `SELECT
    instance.uuid AS uuid, instance.gpu_instance AS gpu_instance, profile, namespace, pod, container, last_seen_ms,
    latest.metric_names AS metric_names, latest.value_ts_ms AS value_ts_ms, latest.metric_values AS metric_values
FROM (
    SELECT uuid, gpu_instance,
        tupleElement(max(profile), 'profile') AS profile,
        tupleElement(max(workload), 'namespace') AS namespace,
        tupleElement(max(workload), 'pod') AS pod,
        tupleElement(max(workload), 'container') AS container,
        toUnixTimestamp64Milli(max(last_seen)) AS last_seen_ms
    FROM mig_instances
    GROUP BY uuid, gpu_instance
) AS instance
LEFT JOIN (${latestSql(options.metrics.length > 0, "instance")}) AS latest
    ON latest.uuid = instance.uuid AND latest.gpu_instance = instance.gpu_instance
ORDER BY uuid, toUInt64OrZero(gpu_instance), gpu_instance
LIMIT {rows_max:UInt32}
SETTINGS join_use_nulls = 0`,
    params: { metrics: options.metrics, rows_max: rowsMax + 1 },
    row: FleetMigRow,
    rowsMax,
  });
}

function assertFleetOptions(options: FleetQueryOptions): void {
  assertLimit(options.limit, fleetGpusMax, "fleet limit");
  if (options.metrics.length > metricsFilterCountMax) {
    throw new RangeError(`fleet metric filter has ${options.metrics.length} names, more than ${metricsFilterCountMax}`);
  }
}

function fleetParams(options: FleetQueryOptions): Record<string, unknown> {
  const placement = placementColumns.filter((column) => options.filter[column] !== undefined);
  return {
    metrics: options.metrics,
    limit: options.limit + 1,
    ...Object.fromEntries(placement.map((column) => [column, options.filter[column]])),
    ...workloadParams(options.filter),
  };
}

/**
 * The GPUs that match, at most `limit + 1` in (hostname, gpu_index, uuid) order. Only
 * which filters are present changes the text; every value is a parameter.
 */
function registrySql(filter: FleetFilter): string {
  const placement = placementColumns.filter((column) => filter[column] !== undefined);
  const having = placement.map((column) => `${column} = {${column}:String}`).join(" AND ");
  const gpus = `SELECT
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
    ${having === "" ? "" : `HAVING ${having}`}`;
  const workload = workloadCondition(filter, "own");
  if (workload === undefined) return `${gpus}\n    ORDER BY hostname, gpu_index, uuid\n    LIMIT {limit:UInt32}`;
  return `SELECT own.uuid AS uuid, hostname, gpu_index, model, namespace, pod, container, last_seen_ms
    FROM (${gpus}) AS own
    ${migWorkloadsJoin("own")}
    WHERE ${workload}
    ORDER BY hostname, gpu_index, uuid
    LIMIT {limit:UInt32}`;
}

/**
 * The latest values as parallel arrays, per GPU (`by` "uuid": its own values) or per MIG
 * instance (`by` "instance"), of the metrics asked for or all of them.
 */
function latestSql(byMetric: boolean, by: "uuid" | "instance"): string {
  const instance = by === "uuid" ? "gpu_instance = ''" : "gpu_instance != ''";
  const keys = by === "uuid" ? "uuid" : "uuid, gpu_instance";
  return `SELECT ${keys}, groupArray(metric) AS metric_names, groupArray(ts_ms) AS value_ts_ms, groupArray(value) AS metric_values
    FROM (
        SELECT uuid, gpu_instance, metric,
            toUnixTimestamp64Milli(tupleElement(max(latest), 'ts')) AS ts_ms,
            tupleElement(max(latest), 'value') AS value
        FROM gpu_latest
        WHERE ${instance}${byMetric ? " AND has({metrics:Array(String)}, metric)" : ""}
        GROUP BY uuid, gpu_instance, metric
    )
    GROUP BY ${keys}`;
}
