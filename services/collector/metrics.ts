import {
  batchSizeBuckets,
  Counter,
  Gauge,
  Histogram,
  latencyBucketsSeconds,
  type Registry,
} from "../../src/observability/metrics.ts";

/** Live values the gauges read when scraped. */
export interface CollectorGaugeSources {
  assignedPartitions: () => number;
  /** Records between the committed-to-be position and the high watermark, per "topic/partition". */
  lagRecords: () => ReadonlyMap<string, { topic: string; partition: number; records: number }>;
}

export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;

/** The collector's series; the dev stack's status panel reads these exact names. */
export function createCollectorMetrics(registry: Registry, sources: CollectorGaugeSources) {
  return {
    rowsInserted: new Counter({
      name: "collector_rows_inserted_total",
      help: "Rows inserted into ClickHouse (a replayed batch that ClickHouse deduplicated counts again)",
      registers: [registry],
    }),
    insertBatchRows: new Histogram({
      name: "collector_insert_batch_rows",
      help: "Rows per ClickHouse insert",
      buckets: batchSizeBuckets,
      registers: [registry],
    }),
    insertDurationSeconds: new Histogram({
      name: "collector_insert_duration_seconds",
      help: "Duration of one successful ClickHouse insert",
      buckets: latencyBucketsSeconds,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "collector_dead_letters_total",
      help: "Records sent to the dead-letter topic, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    rowsSkippedStored: new Counter({
      name: "collector_rows_skipped_stored_total",
      help: "Rows not inserted because ClickHouse already held their source offsets (a replay after a crash or a rewind)",
      registers: [registry],
    }),
    insertRetries: new Counter({
      name: "collector_insert_retries_total",
      help: "ClickHouse inserts that failed and were retried",
      registers: [registry],
    }),
    lagRecords: new Gauge({
      name: "collector_lag_records",
      help: "Records of an assigned partition not yet inserted (high watermark minus position)",
      labelNames: ["topic", "partition"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const entry of sources.lagRecords().values()) {
          this.set({ topic: entry.topic, partition: String(entry.partition) }, entry.records);
        }
      },
    }),
    assignedPartitions: new Gauge({
      name: "collector_assigned_partitions",
      help: "Partitions this collector owns now",
      registers: [registry],
      collect() {
        this.set(sources.assignedPartitions());
      },
    }),
  };
}
