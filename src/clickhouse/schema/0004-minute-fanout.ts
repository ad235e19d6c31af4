import type { Migration } from "./migration.ts";

/**
 * The three views stop reading every inserted row. One view now aggregates each insert
 * block per (GPU, metric, minute) into `datapoints_minutes`, a Null table (it stores
 * nothing, it only feeds its own views), and the rollup, the latest values and the GPU
 * registry are computed from those few aggregate rows: about one row per series and
 * minute instead of one per datapoint. Three GROUP BYs over 50,000 rows became one,
 * which raised the embedded engine's insert rate by about a quarter
 * (`bun run bench:clickhouse-insert`).
 *
 * The results are the same as before (test/src/clickhouse/schema-fanout.test.ts compares
 * them), with one difference on a tie: a GPU's placement (hostname, index, device,
 * model) is taken from its datapoint with the greatest `ts` by argMax, so two
 * placements stamped in the same millisecond of one insert resolve by row order.
 *
 * `ALTER TABLE ... MODIFY QUERY` switches each existing view to its new source in one
 * step, so an insert running during the upgrade reaches every target once: before the
 * switch through the old query, after it through the fanout (whose own view is created
 * first and feeds nothing until a view reads from it). Deduplication carries through
 * the chain: a re-inserted block is not aggregated again.
 */
export const minuteFanoutMigration: Migration = {
  version: 4,
  name: "views read per-minute aggregates",
  statements: [
    `CREATE TABLE IF NOT EXISTS {{db}}.datapoints_minutes
(
    uuid LowCardinality(String),
    metric LowCardinality(String),
    minute DateTime('UTC'),
    first_ts DateTime64(3, 'UTC'),
    last_ts DateTime64(3, 'UTC'),
    hostname LowCardinality(String),
    gpu_index UInt16,
    device LowCardinality(String),
    model LowCardinality(String),
    driver Tuple(ts DateTime64(3, 'UTC'), driver_version String),
    value_min Float64,
    value_max Float64,
    value_sum Float64,
    value_count UInt64,
    value_last Tuple(ts DateTime64(3, 'UTC'), value Float64)
)
ENGINE = Null`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.datapoints_minutes_mv TO {{db}}.datapoints_minutes AS
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
    max((ts, value)) AS value_last
FROM {{db}}.datapoints
GROUP BY uuid, metric, minute`,
    `ALTER TABLE {{db}}.datapoints_1m_mv MODIFY QUERY
SELECT uuid, metric, minute, value_min, value_max, value_sum, value_count, value_last
FROM {{db}}.datapoints_minutes`,
    `ALTER TABLE {{db}}.gpu_latest_mv MODIFY QUERY
SELECT uuid, metric, max(value_last) AS latest
FROM {{db}}.datapoints_minutes
GROUP BY uuid, metric`,
    // A group without a driver label carries the default tuple (epoch, ''), which every real one outranks.
    `ALTER TABLE {{db}}.gpus_mv MODIFY QUERY
SELECT
    uuid,
    max((last_ts, toString(hostname), gpu_index, toString(device), toString(model))) AS placement,
    max(driver) AS driver,
    min(first_ts) AS first_seen,
    max(last_ts) AS last_seen,
    groupUniqArray(toString(metric)) AS metrics
FROM {{db}}.datapoints_minutes
GROUP BY uuid`,
  ],
};
