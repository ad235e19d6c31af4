import { type Static, Type } from "@sinclair/typebox";
import { metricsPerGpuMax } from "./gpu-queries.ts";
import { assertLimit, queryRows, type RowsClient } from "./typed-query.ts";

/**
 * Reads of the MIG instance registry (`mig_instances`, migration 7): a MIG instance is
 * its GPU's UUID plus dcgm-exporter's `GPU_I_ID`, with the profile, workload, first
 * and last report and metrics of its own datapoints. Nothing here scans datapoints.
 */

/** An A100 or H100 has at most 7 GPU instances; more than this per GPU is a bug upstream. */
export const migInstancesPerGpuMax = 16;
/** GPUs whose instances one call reads at most (a page of the registry or of the fleet). */
export const migGpusPerQueryMax = 50_001;

export const MigInstanceRow = Type.Object({
  uuid: Type.String({ description: "the GPU's UUID" }),
  gpu_instance: Type.String({ minLength: 1, description: "GPU_I_ID" }),
  profile: Type.String({ description: "GPU_I_PROFILE of its latest datapoint that had one, e.g. 1g.10gb" }),
  namespace: Type.String(),
  pod: Type.String(),
  container: Type.String(),
  first_seen_ms: Type.Integer(),
  last_seen_ms: Type.Integer(),
  metrics: Type.Array(Type.String(), { description: "sorted" }),
});
export type MigInstanceRow = Static<typeof MigInstanceRow>;

const instanceSelect = `SELECT
    uuid,
    gpu_instance,
    tupleElement(max(profile), 'profile') AS profile,
    tupleElement(max(workload), 'namespace') AS namespace,
    tupleElement(max(workload), 'pod') AS pod,
    tupleElement(max(workload), 'container') AS container,
    toUnixTimestamp64Milli(min(first_seen)) AS first_seen_ms,
    toUnixTimestamp64Milli(max(last_seen)) AS last_seen_ms,
    arraySort(groupUniqArrayArray(metrics)) AS metrics
FROM mig_instances`;

/** Instances in numeric GPU_I_ID order (non-numeric ids after, by text). */
const instanceOrder = "ORDER BY uuid, toUInt64OrZero(gpu_instance), gpu_instance";

/** The instances of these GPUs, by uuid then GPU_I_ID: one query for a whole page. */
export async function migInstancesOf(client: RowsClient, uuids: readonly string[]): Promise<MigInstanceRow[]> {
  if (uuids.length === 0) return [];
  assertLimit(uuids.length, migGpusPerQueryMax, "migInstancesOf uuids");
  const rowsMax = uuids.length * migInstancesPerGpuMax;
  return queryRows(client, {
    name: "mig instances of gpus",
    sql: `${instanceSelect}
WHERE has({uuids:Array(String)}, uuid)
GROUP BY uuid, gpu_instance
${instanceOrder}
LIMIT {limit:UInt32}`,
    params: { uuids, limit: rowsMax + 1 },
    row: MigInstanceRow,
    rowsMax,
  });
}

export async function getMigInstance(
  client: RowsClient,
  key: { uuid: string; gpuInstance: string },
): Promise<MigInstanceRow | undefined> {
  if (key.gpuInstance === "") throw new RangeError("getMigInstance: a MIG instance has a non-empty GPU_I_ID");
  const rows = await queryRows(client, {
    name: "get mig instance",
    sql: `${instanceSelect}
WHERE uuid = {uuid:String} AND gpu_instance = {gpu_instance:String}
GROUP BY uuid, gpu_instance`,
    params: { uuid: key.uuid, gpu_instance: key.gpuInstance },
    row: MigInstanceRow,
    rowsMax: 1,
  });
  return rows[0];
}

export const SeriesLatestRow = Type.Object({
  uuid: Type.String(),
  gpu_instance: Type.String(),
  metric: Type.String(),
  ts_ms: Type.Integer(),
  value: Type.Number(),
});
export type SeriesLatestRow = Static<typeof SeriesLatestRow>;

/**
 * The newest value of every metric of several GPUs and MIG instances in one query, by
 * uuid, instance and metric; a key with an empty instance is the GPU's own values.
 */
export async function latestValuesOf(
  client: RowsClient,
  keys: readonly { uuid: string; gpuInstance: string }[],
): Promise<SeriesLatestRow[]> {
  if (keys.length === 0) return [];
  assertLimit(keys.length, migGpusPerQueryMax, "latestValuesOf keys");
  const rowsMax = keys.length * metricsPerGpuMax;
  return queryRows(client, {
    name: "latest values of series",
    sql: `SELECT
    uuid,
    gpu_instance,
    metric,
    toUnixTimestamp64Milli(tupleElement(max(latest), 'ts')) AS ts_ms,
    tupleElement(max(latest), 'value') AS value
FROM gpu_latest
WHERE has({uuids:Array(String)}, uuid) AND has({keys:Array(String)}, concat(uuid, '\\n', gpu_instance))
GROUP BY uuid, gpu_instance, metric
ORDER BY uuid, gpu_instance, metric
LIMIT {limit:UInt32}`,
    params: {
      uuids: [...new Set(keys.map((key) => key.uuid))],
      keys: keys.map((key) => `${key.uuid}\n${key.gpuInstance}`),
      limit: rowsMax + 1,
    },
    row: SeriesLatestRow,
    rowsMax,
  });
}
