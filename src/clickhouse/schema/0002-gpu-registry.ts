import type { Migration } from "./migration.ts";

/**
 * The GPU registry and the latest value per (GPU, metric), both kept by materialized
 * views so the API never scans datapoints to list GPUs or show a GPU's current state.
 *
 * "Latest" is `max((ts, ...))` over tuples: the row with the greatest processing time
 * wins, and on a tie at the same millisecond the greater remaining fields decide, so
 * the answer is deterministic whatever order parts merge in. SimpleAggregateFunction
 * keeps the stored values readable (no -State/-Merge pairs).
 *
 * The targets also set the dedup window: with `deduplicate_blocks_in_dependent_materialized_views`
 * a re-inserted batch is not aggregated twice, even if the first attempt reached the
 * datapoints table but not a view.
 *
 * A GPU leaves the registry when its last datapoint leaves the retention.
 */
export const gpuRegistryMigration: Migration = {
  version: 2,
  name: "gpu registry and latest values",
  statements: [
    `CREATE TABLE IF NOT EXISTS {{db}}.gpus
(
    uuid String,
    placement SimpleAggregateFunction(max,
        Tuple(ts DateTime64(3, 'UTC'), hostname String, gpu_index UInt16, device String, model String)),
    driver SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), driver_version String)),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    metrics SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
ORDER BY uuid
TTL toDateTime(last_seen) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.gpus_mv TO {{db}}.gpus AS
SELECT
    uuid,
    max((ts, toString(hostname), gpu_index, toString(device), toString(model))) AS placement,
    maxIf((ts, toString(driver_version)), driver_version != '') AS driver,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    groupUniqArray(toString(metric)) AS metrics
FROM {{db}}.datapoints
GROUP BY uuid`,
    `CREATE TABLE IF NOT EXISTS {{db}}.gpu_latest
(
    uuid String,
    metric String,
    latest SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), value Float64))
)
ENGINE = AggregatingMergeTree
ORDER BY (uuid, metric)
TTL toDateTime(latest.ts) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.gpu_latest_mv TO {{db}}.gpu_latest AS
SELECT uuid, metric, max((ts, value)) AS latest
FROM {{db}}.datapoints
GROUP BY uuid, metric`,
  ],
};
