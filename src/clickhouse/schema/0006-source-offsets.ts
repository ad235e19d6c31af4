import type { Migration } from "./migration.ts";

/**
 * Every datapoint remembers where it came from: the broker topic (its name and its
 * incarnation, the broker's creation time of the topic), the partition and the offset
 * of its record. A collector that takes a partition asks which offsets are stored
 * and skips them, so a replay stores nothing twice however its inserts are cut, and
 * a rewind of the group's offsets (to 0, into a batch, to an old commit) re-inserts
 * only what is missing (services/collector/stored-offsets-gate.ts).
 *
 * The projection keeps these four columns sorted by source in every part, written in
 * the same part as the rows (atomically with them, unlike a materialized view, whose
 * target is a separate part a crash can leave behind), so "the highest stored offset
 * of a partition" and "the stored offsets in a range" read a few granules of each
 * part. Sorted offsets delta-encode to almost nothing.
 *
 * Rows stored before this migration carry the defaults ('' / 0) and never match a
 * topic. Parts written before it have no projection; a query reads those parts'
 * columns instead (the defaults, nothing stored on disk). A lightweight DELETE
 * rebuilds the projection of the parts it touches (ClickHouse refuses it otherwise).
 */
export const sourceOffsetsMigration: Migration = {
  version: 6,
  name: "source topic, partition and offset per datapoint",
  statements: [
    `ALTER TABLE {{db}}.datapoints
    ADD COLUMN IF NOT EXISTS src_topic LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS src_topic_id UInt64 DEFAULT 0 CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS src_partition UInt16 DEFAULT 0 CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS src_offset UInt64 DEFAULT 0 CODEC(Delta, ZSTD(1))`,
    `ALTER TABLE {{db}}.datapoints
    ADD PROJECTION IF NOT EXISTS by_source
    (SELECT src_topic, src_topic_id, src_partition, src_offset ORDER BY src_topic, src_topic_id, src_partition, src_offset)`,
    `ALTER TABLE {{db}}.datapoints MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild'`,
  ],
};
