import type { GroupLag } from "../../src/broker-protocol/group-protocol.ts";
import { Counter, Gauge, Histogram, latencyBucketsSeconds, type Registry } from "../../src/observability/metrics.ts";
import type { PartitionLogInfo } from "../log/log-api.ts";

/** Read at scrape time, so the gauges cost nothing between scrapes. */
export interface GaugeSources {
  partitions: () => PartitionLogInfo[];
  lags: () => GroupLag[];
  /** The data directory's file system, as the disk watcher saw it last (every second). */
  disk: () => { freeBytes: number; totalBytes: number };
}

/** The broker's own series, next to the process metrics of the shared registry. */
export interface BrokerMetrics {
  producedRecords: Counter<"topic">;
  producedBytes: Counter<"topic">;
  fetchedBytes: Counter<"topic">;
  requestSeconds: Histogram<"route" | "status">;
  errors: Counter<"route" | "code">;
  inFlightBytes: Gauge;
  logSizeBytes: Gauge<"topic" | "partition">;
  highWatermark: Gauge<"topic" | "partition">;
  groupLag: Gauge<"group" | "topic" | "partition">;
  diskFreeBytes: Gauge;
  diskTotalBytes: Gauge;
}

export function createBrokerMetrics(registry: Registry, sources: GaugeSources): BrokerMetrics {
  const registers = [registry];
  return {
    producedRecords: new Counter({
      name: "broker_produce_records_total",
      help: "records appended (duplicates excluded)",
      labelNames: ["topic"],
      registers,
    }),
    producedBytes: new Counter({
      name: "broker_produce_bytes_total",
      help: "batch bytes appended",
      labelNames: ["topic"],
      registers,
    }),
    fetchedBytes: new Counter({
      name: "broker_fetch_bytes_total",
      help: "batch bytes served by fetch",
      labelNames: ["topic"],
      registers,
    }),
    requestSeconds: new Histogram({
      name: "broker_request_duration_seconds",
      help: "request latency by route (fetch includes its long-poll wait)",
      labelNames: ["route", "status"],
      buckets: latencyBucketsSeconds,
      registers,
    }),
    errors: new Counter({
      name: "broker_errors_total",
      help: "error answers by route and code",
      labelNames: ["route", "code"],
      registers,
    }),
    inFlightBytes: new Gauge({
      name: "broker_in_flight_bytes",
      help: "produce bytes held in memory (memory watermark)",
      registers,
    }),
    logSizeBytes: new Gauge({
      name: "broker_log_size_bytes",
      help: "bytes on disk per partition",
      labelNames: ["topic", "partition"],
      registers,
      collect() {
        this.reset();
        for (const info of sources.partitions()) {
          this.set({ topic: info.topic, partition: String(info.partition) }, info.sizeBytes);
        }
      },
    }),
    highWatermark: new Gauge({
      name: "broker_high_watermark_offset",
      help: "next offset to be written per partition",
      labelNames: ["topic", "partition"],
      registers,
      collect() {
        this.reset();
        for (const info of sources.partitions()) {
          this.set({ topic: info.topic, partition: String(info.partition) }, info.highWatermark);
        }
      },
    }),
    diskFreeBytes: new Gauge({
      name: "broker_disk_free_bytes",
      help: "bytes available to the broker on its data directory's file system (produce is refused below BROKER_DISK_FREE_BYTES_MIN)",
      registers,
      collect() {
        const { freeBytes } = sources.disk();
        if (Number.isFinite(freeBytes)) this.set(freeBytes);
      },
    }),
    diskTotalBytes: new Gauge({
      name: "broker_disk_total_bytes",
      help: "size of the broker's data directory's file system",
      registers,
      collect() {
        this.set(sources.disk().totalBytes);
      },
    }),
    groupLag: new Gauge({
      name: "broker_group_lag_records",
      help: "records between a group's committed offset and the high watermark",
      labelNames: ["group", "topic", "partition"],
      registers,
      collect() {
        this.reset();
        for (const group of sources.lags()) {
          for (const entry of group.partitions) {
            this.set({ group: group.group, topic: entry.topic, partition: String(entry.partition) }, entry.lag);
          }
        }
      },
    }),
  };
}
