import type { Migration } from "./migration.ts";

/**
 * The datapoints table. Its input columns are exactly the wire record's fields
 * (src/domain/telemetry.ts), so a collector inserts the records' JSON lines as a
 * JSONEachRow body without re-encoding them; the other columns are computed here.
 *
 * Ordered by (uuid, metric, ts): the API reads one GPU's series by time. Timestamps
 * delta-of-delta encoded and values Gorilla encoded (both then ZSTD) because
 * consecutive samples of one series are close in time and value.
 *
 * `non_replicated_deduplication_window` makes a plain MergeTree remember the last
 * blocks' dedup tokens: a batch re-inserted with the same `insert_deduplication_token`
 * (the collector's topic/partition/offsets) is stored once.
 *
 * The constraints refuse the batch (a data error for the collector to sort out) when a
 * record lacks its identity or its value: JSONEachRow fills an omitted field with the
 * column default and reads `null` as NaN, which would otherwise be stored silently.
 *
 * Rows older than the retention are dropped by TTL, also at insert time: a datapoint
 * whose `ts` is already older than the retention never shows up.
 */
export const datapointsMigration: Migration = {
  version: 1,
  name: "datapoints",
  statements: [
    `CREATE TABLE IF NOT EXISTS {{db}}.datapoints
(
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    source_ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    uuid LowCardinality(String),
    hostname LowCardinality(String),
    gpu_index UInt16,
    device LowCardinality(String),
    model LowCardinality(String),
    metric LowCardinality(String),
    value Float64 CODEC(Gorilla, ZSTD(1)),
    container LowCardinality(String),
    pod LowCardinality(String),
    namespace LowCardinality(String),
    labels Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    driver_version LowCardinality(String) MATERIALIZED labels['DCGM_FI_DRIVER_VERSION'],
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1)),
    CONSTRAINT uuid_present CHECK uuid != '',
    CONSTRAINT metric_present CHECK metric != '',
    CONSTRAINT value_finite CHECK isFinite(value)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (uuid, metric, ts)
TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1`,
  ],
};
