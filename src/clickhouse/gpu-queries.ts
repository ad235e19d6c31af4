import type { ClickHouseClient } from "@clickhouse/client";
import { type Static, Type } from "@sinclair/typebox";
import { assertLimit, queryRows } from "./typed-query.ts";
import { migWorkloadsJoin, type WorkloadFilter, workloadCondition, workloadParams } from "./workload-filter.ts";

/**
 * Reads of the GPU registry (`gpus`) and the latest values (`gpu_latest`), both kept by
 * materialized views: nothing here scans datapoints. Times are UTC epoch milliseconds.
 */

export const gpusPageLimitMax = 1_000;
export const hostsMax = 100_000;
/** A GPU reports a few dozen DCGM fields; more than this is a bug upstream. */
export const metricsPerGpuMax = 1_000;

export const GpuRow = Type.Object({
  uuid: Type.String(),
  hostname: Type.String(),
  gpu_index: Type.Integer({ minimum: 0 }),
  device: Type.String(),
  model: Type.String(),
  driver_version: Type.String({ description: "latest non-empty DCGM_FI_DRIVER_VERSION label; empty when never seen" }),
  namespace: Type.String({ description: "Kubernetes namespace of the latest datapoint's pod; empty when none" }),
  pod: Type.String(),
  container: Type.String(),
  first_seen_ms: Type.Integer(),
  last_seen_ms: Type.Integer(),
  metrics: Type.Array(Type.String(), { description: "sorted" }),
});
export type GpuRow = Static<typeof GpuRow>;

export const LatestValueRow = Type.Object({
  metric: Type.String(),
  ts_ms: Type.Integer(),
  value: Type.Number(),
});
export type LatestValueRow = Static<typeof LatestValueRow>;

export const HostRow = Type.Object({
  hostname: Type.String(),
  gpu_count: Type.Integer({ minimum: 1 }),
  last_seen_ms: Type.Integer(),
});
export type HostRow = Static<typeof HostRow>;

/** One row per GPU, latest placement by processing time (see migration 0002). */
const gpuSelect = `SELECT
    uuid,
    tupleElement(max(placement), 'hostname') AS hostname,
    tupleElement(max(placement), 'gpu_index') AS gpu_index,
    tupleElement(max(placement), 'device') AS device,
    tupleElement(max(placement), 'model') AS model,
    tupleElement(max(driver), 'driver_version') AS driver_version,
    tupleElement(max(workload), 'namespace') AS namespace,
    tupleElement(max(workload), 'pod') AS pod,
    tupleElement(max(workload), 'container') AS container,
    toUnixTimestamp64Milli(min(first_seen)) AS first_seen_ms,
    toUnixTimestamp64Milli(max(last_seen)) AS last_seen_ms,
    arraySort(groupUniqArrayArray(metrics)) AS metrics
FROM gpus`;

export interface ListGpusOptions extends WorkloadFilter {
  hostname?: string | undefined;
  model?: string | undefined;
  limit: number;
  /** Keyset: only GPUs whose uuid sorts after this one (the last uuid of the previous page). */
  afterUuid?: string | undefined;
}

const gpuColumns =
  "uuid, hostname, gpu_index, device, model, driver_version, namespace, pod, container, first_seen_ms, last_seen_ms, metrics";

/**
 * GPUs in uuid order; pass the last uuid back as `afterUuid` for the next page. A
 * workload filter (namespace, pod, container) matches a GPU's own workload or one of
 * its MIG instances' (workload-filter.ts).
 */
export async function listGpus(client: ClickHouseClient, options: ListGpusOptions): Promise<GpuRow[]> {
  assertLimit(options.limit, gpusPageLimitMax, "listGpus limit");
  const placement = (["hostname", "model"] as const).filter((column) => options[column] !== undefined);
  const having = placement.map((column) => `${column} = {${column}:String}`).join(" AND ");
  const registry = `${gpuSelect}
WHERE uuid > {after_uuid:String}
GROUP BY uuid
${having === "" ? "" : `HAVING ${having}`}`;
  const workload = workloadCondition(options, "registry");
  const sql =
    workload === undefined
      ? `${registry}\nORDER BY uuid\nLIMIT {limit:UInt32}`
      : `SELECT registry.${gpuColumns.replace("uuid, ", "uuid AS uuid, ")}
FROM (${registry}) AS registry
${migWorkloadsJoin("registry")}
WHERE ${workload}
ORDER BY uuid
LIMIT {limit:UInt32}
SETTINGS join_use_nulls = 0`;
  return queryRows(client, {
    name: "list gpus",
    sql,
    params: {
      after_uuid: options.afterUuid ?? "",
      hostname: options.hostname ?? "",
      model: options.model ?? "",
      limit: options.limit,
      ...workloadParams(options),
    },
    row: GpuRow,
    rowsMax: options.limit,
  });
}

export async function getGpu(client: ClickHouseClient, uuid: string): Promise<GpuRow | undefined> {
  const rows = await queryRows(client, {
    name: "get gpu",
    sql: `${gpuSelect}\nWHERE uuid = {uuid:String}\nGROUP BY uuid`,
    params: { uuid },
    row: GpuRow,
    rowsMax: 1,
  });
  return rows[0];
}

/** The GPU last seen at `hostname` index `gpuIndex` (a replaced card leaves an older uuid behind). */
export async function findGpuByHostIndex(
  client: ClickHouseClient,
  location: { hostname: string; gpuIndex: number },
): Promise<GpuRow | undefined> {
  const rows = await queryRows(client, {
    name: "find gpu by host index",
    sql: `${gpuSelect}
GROUP BY uuid
HAVING hostname = {hostname:String} AND gpu_index = {gpu_index:UInt16}
ORDER BY last_seen_ms DESC, uuid
LIMIT 1`,
    params: { hostname: location.hostname, gpu_index: location.gpuIndex },
    row: GpuRow,
    rowsMax: 1,
  });
  return rows[0];
}

/**
 * The newest value of every metric the GPU reported, by metric name: its own
 * (`gpuInstance` empty) or one of its MIG instances'.
 */
export async function latestValues(
  client: ClickHouseClient,
  uuid: string,
  gpuInstance = "",
): Promise<LatestValueRow[]> {
  return queryRows(client, {
    name: "latest values",
    sql: `SELECT
    metric,
    toUnixTimestamp64Milli(tupleElement(max(latest), 'ts')) AS ts_ms,
    tupleElement(max(latest), 'value') AS value
FROM gpu_latest
WHERE uuid = {uuid:String} AND gpu_instance = {gpu_instance:String}
GROUP BY metric
ORDER BY metric
LIMIT {limit:UInt32}`,
    params: { uuid, gpu_instance: gpuInstance, limit: metricsPerGpuMax },
    row: LatestValueRow,
    rowsMax: metricsPerGpuMax,
  });
}

/** Every host with its GPU count, by hostname. More than `hostsMax` hosts is an error. */
export async function listHosts(client: ClickHouseClient): Promise<HostRow[]> {
  const rows = await queryRows(client, {
    name: "list hosts",
    sql: `SELECT hostname, count() AS gpu_count, toUnixTimestamp64Milli(max(gpu_last_seen)) AS last_seen_ms
FROM (
    SELECT uuid, tupleElement(max(placement), 'hostname') AS hostname, max(last_seen) AS gpu_last_seen
    FROM gpus GROUP BY uuid
)
GROUP BY hostname
ORDER BY hostname
LIMIT {limit:UInt32}`,
    params: { limit: hostsMax + 1 },
    row: HostRow,
    rowsMax: hostsMax + 1,
  });
  if (rows.length > hostsMax) throw new Error(`listHosts: more than hostsMax ${hostsMax} hosts`);
  return rows;
}
