import { Counter, Gauge, Histogram, latencyBucketsSeconds, type Registry } from "../../src/observability/metrics.ts";
import type { RowRejectionReason } from "../../src/telemetry/source-point.ts";

/**
 * The streamer's Prometheus series. Names are part of the contract: dashboards and the
 * dev stack's status panel read streamer_rows_produced_total. Rates are Prometheus'
 * rate() over the counters, never a gauge computed here.
 */
export class StreamerMetrics {
  readonly rowsRead: Counter;
  readonly rowsProduced: Counter;
  readonly rowsAcked: Counter;
  readonly rowsSkipped: Counter;
  readonly rowsDropped: Counter<"reason">;
  readonly produceRefused: Counter<"code">;
  readonly scheduleLag: Gauge;
  readonly rowsRejected: Counter<"reason">;
  readonly produceDuration: Histogram;
  readonly ownedGpus: Gauge;
  readonly ownedPartitions: Gauge;
  readonly loops: Counter;
  readonly produceErrors: Counter;
  readonly scrapeFailures: Counter;
  readonly scrapeDuration: Histogram;
  readonly scrapeOverruns: Counter;
  readonly discoveryFailures: Counter;
  readonly exporterTargets: Gauge;
  readonly ownedTargets: Gauge;
  /** Plain mirror of rowsProduced, readable without an async collect. */
  producedCount = 0;
  /** Plain mirror of rowsAcked. */
  ackedCount = 0;
  /** Counted when scraped: GPUs are known to the produce path, ownership to the group. */
  ownedGpuCount: () => number = () => 0;
  /** Exporter targets known (discovery) and owned by this streamer; 0 with the CSV source. */
  targetCounts: () => { known: number; owned: number } = () => ({ known: 0, owned: 0 });
  /** Read when scraped: how far behind the schedule the streamer's partitions are. */
  scheduleLagMs: () => number = () => 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const metrics = this;
    this.rowsRead = new Counter({
      name: "streamer_rows_read_total",
      help: "source rows read (valid and rejected)",
      registers,
    });
    this.rowsProduced = new Counter({
      name: "streamer_rows_produced_total",
      help: "records handed to the producer (streamer_rows_acked_total counts those the broker acknowledged)",
      registers,
    });
    this.rowsAcked = new Counter({
      name: "streamer_rows_acked_total",
      help: "records the broker acknowledged (stored: they survive this streamer's death)",
      registers,
    });
    this.rowsSkipped = new Counter({
      name: "streamer_rows_skipped_total",
      help: "rows of the schedule not sent: due while nobody owned their partition, longer ago than STREAMER_CATCH_UP_MS_MAX",
      registers,
    });
    this.rowsDropped = new Counter({
      name: "streamer_rows_dropped_total",
      help: "records handed to the producer and never acknowledged, by reason (delivery_timeout, refused, shutdown)",
      labelNames: ["reason"],
      registers,
    });
    this.produceRefused = new Counter({
      name: "streamer_produce_refused_total",
      help: "produce attempts the broker refused or that failed on the way (retried), by code: disk_full, slow_down, shutting_down, network, ...",
      labelNames: ["code"],
      registers,
    });
    this.scheduleLag = new Gauge({
      name: "streamer_schedule_lag_seconds",
      help: "how far behind its schedule the furthest-behind partition of this streamer is (catching up after a hand-over, or held back by the broker)",
      registers,
      collect() {
        this.set(metrics.scheduleLagMs() / 1000);
      },
    });
    this.rowsRejected = new Counter({
      name: "streamer_rows_rejected_total",
      help: "source rows skipped as invalid, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.produceDuration = new Histogram({
      name: "streamer_produce_duration_seconds",
      help: "time to hand one batch of rows to the producer (includes backpressure and rate waits)",
      buckets: latencyBucketsSeconds,
      registers,
    });
    this.ownedGpus = new Gauge({
      name: "streamer_owned_gpus",
      help: "GPUs seen in the source that this streamer owns now",
      registers,
      collect() {
        this.set(metrics.ownedGpuCount());
      },
    });
    this.ownedPartitions = new Gauge({
      name: "streamer_owned_partitions",
      help: "partitions of the topic this streamer owns now",
      registers,
    });
    this.loops = new Counter({ name: "streamer_loops_total", help: "completed passes over the source", registers });
    this.produceErrors = new Counter({
      name: "streamer_produce_errors_total",
      help: "producer flush failures",
      registers,
    });
    this.scrapeFailures = new Counter({
      name: "streamer_scrape_failures_total",
      help: "failed dcgm-exporter scrapes",
      registers,
    });
    this.scrapeDuration = new Histogram({
      name: "streamer_scrape_duration_seconds",
      help: "time to fetch one dcgm-exporter target's page (failures included)",
      buckets: latencyBucketsSeconds,
      registers,
    });
    this.scrapeOverruns = new Counter({
      name: "streamer_scrape_overruns_total",
      help: "scrapes skipped because the target's previous scrape had not finished (interval too short, or too few STREAMER_SCRAPE_CONCURRENCY_MAX)",
      registers,
    });
    this.discoveryFailures = new Counter({
      name: "streamer_discovery_failures_total",
      help: "exporter discoveries that failed after their retries (the last targets stay in use)",
      registers,
    });
    this.exporterTargets = new Gauge({
      name: "streamer_exporter_targets",
      help: "dcgm-exporter targets known to this streamer (discovered or listed)",
      registers,
      collect() {
        this.set(metrics.targetCounts().known);
      },
    });
    this.ownedTargets = new Gauge({
      name: "streamer_owned_targets",
      help: "dcgm-exporter targets this streamer scrapes now (its share of the group's)",
      registers,
      collect() {
        this.set(metrics.targetCounts().owned);
      },
    });
  }

  countAcked(records: number): void {
    this.rowsAcked.inc(records);
    this.ackedCount += records;
  }

  countProduced(rows: number): void {
    this.rowsProduced.inc(rows);
    this.producedCount += rows;
  }

  countRejected(byReason: Partial<Record<RowRejectionReason, number>>): void {
    for (const [reason, count] of Object.entries(byReason))
      if (count !== undefined) this.rowsRejected.inc({ reason }, count);
  }
}
