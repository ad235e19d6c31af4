import type { Migration } from "./migration.ts";

/**
 * The GPU registry learns which Kubernetes workload uses each GPU: the namespace, pod
 * and container of its latest datapoint, so the fleet can be filtered by them without
 * scanning datapoints. Like the placement it is `max((ts, ...))` over tuples: the
 * newest datapoint wins, and a GPU whose pod ended shows the empty workload of its
 * newer datapoints.
 *
 * The per-minute fanout carries the workload first (a column on the Null table, then
 * its view's query), the registry gets its column, and only then does the registry's
 * view read it. An insert running between two of these steps aggregates the default
 * tuple (epoch, '', '', ''), which every real datapoint outranks. GPUs that have not
 * reported since the upgrade show no workload until they do.
 */
export const gpuWorkloadMigration: Migration = {
  version: 5,
  name: "gpu registry keeps the workload (namespace, pod, container)",
  statements: [
    `ALTER TABLE {{db}}.datapoints_minutes ADD COLUMN IF NOT EXISTS
    workload Tuple(ts DateTime64(3, 'UTC'), namespace String, pod String, container String)`,
    `ALTER TABLE {{db}}.gpus ADD COLUMN IF NOT EXISTS
    workload SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), namespace String, pod String, container String))`,
    `ALTER TABLE {{db}}.datapoints_minutes_mv MODIFY QUERY
SELECT
    uuid,
    metric,
    toStartOfMinute(ts) AS minute,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    argMax(hostname, ts) AS hostname,
    argMax(gpu_index, ts) AS gpu_index,
    argMax(device, ts) AS device,
    argMax(model, ts) AS model,
    maxIf((ts, toString(driver_version)), driver_version != '') AS driver,
    min(value) AS value_min,
    max(value) AS value_max,
    sum(value) AS value_sum,
    count() AS value_count,
    max((ts, value)) AS value_last,
    max((ts, toString(namespace), toString(pod), toString(container))) AS workload
FROM {{db}}.datapoints
GROUP BY uuid, metric, minute`,
    `ALTER TABLE {{db}}.gpus_mv MODIFY QUERY
SELECT
    uuid,
    max((last_ts, toString(hostname), gpu_index, toString(device), toString(model))) AS placement,
    max(driver) AS driver,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen,
    groupUniqArray(toString(metric)) AS metrics,
    max(workload) AS workload
FROM {{db}}.datapoints_minutes
GROUP BY uuid`,
  ],
};
