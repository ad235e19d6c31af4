import type { Migration } from "./migration.ts";

/**
 * MIG instances become series of their own. dcgm-exporter labels a MIG instance's
 * samples with its parent GPU's UUID plus `GPU_I_ID` (and `GPU_I_PROFILE`, e.g.
 * "1g.10gb"); the streamers keep both in `labels`, so the record layout does not change:
 * the datapoints table computes them at insert as MATERIALIZED columns (a RowBinary
 * insert names its columns, and these are not among them; parts written before read
 * them from `labels` by the same expression).
 *
 * Everything keyed by (GPU, metric) learns the instance, or an instance's values would
 * be merged with its siblings' and its GPU's: the per-minute fanout groups by it, the
 * latest values and the rollup carry it in their sorting key (a column added in the same
 * ALTER may end the sorting key; the primary key stays (uuid, metric...), so nothing is
 * rewritten), and a registry of instances (`mig_instances`) keeps each one's profile,
 * workload, first and last report and metrics. The GPU registry takes its workload and
 * metric list from the GPU's own datapoints (no instance): a MIG GPU's pods are its
 * instances'. Rows stored before the upgrade count as the GPU's own.
 *
 * Order, for inserts that run during the upgrade: the columns exist before anything
 * reads them (the Null table's new columns read '' until its view writes them), the
 * views downstream of the fanout are switched while it still sends one row per
 * (GPU, metric, minute), and the fanout is switched last, when everything that reads
 * it keeps instances apart.
 */
export const migInstancesMigration: Migration = {
  version: 7,
  name: "MIG instances: datapoints, latest values, rollup and a registry per GPU instance",
  statements: [
    `ALTER TABLE {{db}}.datapoints
    ADD COLUMN IF NOT EXISTS gpu_instance LowCardinality(String) MATERIALIZED labels['GPU_I_ID'],
    ADD COLUMN IF NOT EXISTS gpu_instance_profile LowCardinality(String) MATERIALIZED labels['GPU_I_PROFILE']`,
    `ALTER TABLE {{db}}.datapoints_minutes
    ADD COLUMN IF NOT EXISTS gpu_instance String,
    ADD COLUMN IF NOT EXISTS profile Tuple(ts DateTime64(3, 'UTC'), profile String)`,
    `ALTER TABLE {{db}}.gpu_latest ADD COLUMN IF NOT EXISTS gpu_instance String, MODIFY ORDER BY (uuid, metric, gpu_instance)`,
    `ALTER TABLE {{db}}.datapoints_1m
    ADD COLUMN IF NOT EXISTS gpu_instance LowCardinality(String),
    MODIFY ORDER BY (uuid, metric, minute, gpu_instance)`,
    `CREATE TABLE IF NOT EXISTS {{db}}.mig_instances
(
    uuid String,
    gpu_instance String,
    profile SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), profile String)),
    workload SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), namespace String, pod String, container String)),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    metrics SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
ORDER BY (uuid, gpu_instance)
TTL toDateTime(last_seen) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000`,
    `ALTER TABLE {{db}}.gpu_latest_mv MODIFY QUERY
SELECT uuid, metric, gpu_instance, max(value_last) AS latest
FROM {{db}}.datapoints_minutes
GROUP BY uuid, metric, gpu_instance`,
    `ALTER TABLE {{db}}.datapoints_1m_mv MODIFY QUERY
SELECT uuid, metric, minute, gpu_instance, value_min, value_max, value_sum, value_count, value_last
FROM {{db}}.datapoints_minutes`,
    `ALTER TABLE {{db}}.gpus_mv MODIFY QUERY
SELECT
    uuid,
    max((last_ts, toString(hostname), gpu_index, toString(device), toString(model))) AS placement,
    max(driver) AS driver,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen,
    groupUniqArrayIf(toString(metric), gpu_instance = '') AS metrics,
    maxIf(workload, gpu_instance = '') AS workload
FROM {{db}}.datapoints_minutes
GROUP BY uuid`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mig_instances_mv TO {{db}}.mig_instances AS
SELECT
    uuid,
    gpu_instance,
    max(profile) AS profile,
    max(workload) AS workload,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen,
    groupUniqArray(toString(metric)) AS metrics
FROM {{db}}.datapoints_minutes
WHERE gpu_instance != ''
GROUP BY uuid, gpu_instance`,
    `ALTER TABLE {{db}}.datapoints_minutes_mv MODIFY QUERY
SELECT
    uuid,
    metric,
    toStartOfMinute(ts) AS minute,
    gpu_instance,
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
    max((ts, toString(namespace), toString(pod), toString(container))) AS workload,
    maxIf((ts, toString(gpu_instance_profile)), gpu_instance_profile != '') AS profile
FROM {{db}}.datapoints
GROUP BY uuid, metric, minute, gpu_instance`,
  ],
};
