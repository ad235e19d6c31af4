import type { Migration } from "./migration.ts";

/**
 * Per-minute rollup per (GPU, metric), kept by a materialized view, for summaries at
 * steps that are whole minutes. min/max/sum/count combine exactly across parts, so
 * avg = sum / count; `last` uses the same (ts, value) tuple order as gpu_latest.
 */
export const rollupMigration: Migration = {
  version: 3,
  name: "per-minute rollup",
  statements: [
    `CREATE TABLE IF NOT EXISTS {{db}}.datapoints_1m
(
    uuid LowCardinality(String),
    metric LowCardinality(String),
    minute DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    value_min SimpleAggregateFunction(min, Float64),
    value_max SimpleAggregateFunction(max, Float64),
    value_sum SimpleAggregateFunction(sum, Float64),
    value_count SimpleAggregateFunction(sum, UInt64),
    value_last SimpleAggregateFunction(max, Tuple(ts DateTime64(3, 'UTC'), value Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (uuid, metric, minute)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.datapoints_1m_mv TO {{db}}.datapoints_1m AS
SELECT
    uuid,
    metric,
    toStartOfMinute(ts) AS minute,
    min(value) AS value_min,
    max(value) AS value_max,
    sum(value) AS value_sum,
    count() AS value_count,
    max((ts, value)) AS value_last
FROM {{db}}.datapoints
GROUP BY uuid, metric, minute`,
  ],
};
