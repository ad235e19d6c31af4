import { type FleetRow, fleetGpusMax, fleetLatest } from "../../src/clickhouse/fleet-latest.ts";
import type { RowsClient } from "../../src/clickhouse/typed-query.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { Counter, Gauge, type Registry } from "../../src/observability/metrics.ts";

/**
 * GPU alert signals for Prometheus, read from ClickHouse when /metrics is scraped: each
 * GPU's latest temperature, its last XID error (while non-zero: a series per GPU, the code
 * as a label, value 1, so a sum counts GPUs) and the throttle causes of its latest clock
 * event bitmask (likewise), plus the age of the newest stored datapoint.
 * The PrometheusRule of the chart alerts on them (over Prometheus' own history:
 * `max_over_time`, `changes`), so the GPUs need no Prometheus of their own.
 *
 * One query (the fleet's latest values: registry and latest-value views, no datapoint
 * scan) serves every gauge of a scrape and is reused for `cacheMs`; a failed query keeps
 * the last answer (and is counted), so a ClickHouse hiccup does not resolve alerts. GPUs
 * whose values are older than `staleMs` are left out: their series end.
 */

export interface GpuHealthOptions {
  reader: RowsClient;
  registry: Registry;
  logger: Logger;
  staleMs: number;
  cacheMs: number;
  /** Epoch ms (value timestamps are processing times). */
  clock: () => number;
}

export const temperatureMetric = "DCGM_FI_DEV_GPU_TEMP";
export const xidMetric = "DCGM_FI_DEV_XID_ERRORS";
/** The clock event reasons bitmask; DCGM before 3.2 called it CLOCK_THROTTLE_REASONS. */
export const reasonMetrics = ["DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"] as const;

/** NVML's clock event reason bits, by the cause an operator alerts on. */
export const throttleReasonBits: Readonly<Record<string, number>> = Object.freeze({
  // SW thermal slowdown 0x20, HW thermal slowdown 0x40.
  thermal: 0x20 | 0x40,
  // SW power cap 0x04, HW power brake slowdown 0x80.
  power: 0x04 | 0x80,
  // HW slowdown 0x08: thermal, power brake or a high current draw.
  hardware_slowdown: 0x08,
});

/**
 * Not `namespace` and `pod`: Prometheus sets those on every scraped series (the API's own
 * pod), and would rename ours to exported_*.
 */
const gpuLabels = ["uuid", "hostname", "gpu", "model", "workload_namespace", "workload_pod"] as const;
type GpuLabel = (typeof gpuLabels)[number];

interface Snapshot {
  atMs: number;
  rows: readonly FleetRow[];
}

export function registerGpuHealthMetrics(options: GpuHealthOptions): void {
  let errorCount = 0;
  const snapshots = new SnapshotCache(options, () => {
    errorCount += 1;
  });
  const registers = [options.registry];
  new Counter({
    name: "telemetry_gpu_health_errors_total",
    help: "failed reads of the GPU alert signals from ClickHouse (the last answer is served meanwhile)",
    registers,
    // After this scrape's read, so a failure shows in the same scrape.
    async collect() {
      await snapshots.get();
      this.reset();
      this.inc(errorCount);
    },
  });
  registerValueGauges(registers, snapshots, options.staleMs);
  registerThrottleGauge(registers, snapshots, options.staleMs);
  new Gauge({
    name: "telemetry_data_freshness_seconds",
    help: "age of the newest datapoint in ClickHouse (now minus its processing time); grows when the pipeline stalls",
    registers,
    async collect() {
      const { rows, atMs } = await snapshots.get();
      let newestMs = 0;
      for (const row of rows) newestMs = Math.max(newestMs, row.last_seen_ms);
      if (newestMs > 0) this.set(Math.max(0, (atMs - newestMs) / 1000));
    },
  });
}

/** Each reporting GPU's temperature, and the GPUs whose last XID is not 0. */
function registerValueGauges(registers: Registry[], snapshots: SnapshotCache, staleMs: number): void {
  new Gauge<GpuLabel>({
    name: "telemetry_gpu_temperature_celsius",
    help: "each GPU's latest temperature (DCGM_FI_DEV_GPU_TEMP), while it reports",
    labelNames: gpuLabels,
    registers,
    async collect() {
      this.reset();
      const { rows, atMs } = await snapshots.get();
      for (const row of rows) {
        const temperature = freshValue(row, temperatureMetric, atMs - staleMs);
        if (temperature !== undefined) this.set(labelsOf(row), temperature);
      }
    },
  });
  new Gauge<GpuLabel | "xid">({
    name: "telemetry_xid_error_gpus",
    help: "1 for each GPU whose last XID error (DCGM_FI_DEV_XID_ERRORS, label xid) is not 0; the sum counts such GPUs",
    labelNames: [...gpuLabels, "xid"],
    registers,
    async collect() {
      this.reset();
      const { rows, atMs } = await snapshots.get();
      for (const row of rows) {
        const xid = freshValue(row, xidMetric, atMs - staleMs);
        if (xid !== undefined && xid !== 0) this.set({ ...labelsOf(row), xid: String(Math.trunc(xid)) }, 1);
      }
    },
  });
}

function registerThrottleGauge(registers: Registry[], snapshots: SnapshotCache, staleMs: number): void {
  new Gauge<GpuLabel | "reason">({
    name: "telemetry_throttled_gpus",
    help: "1 for each GPU whose latest clock event reasons hold a throttle cause (label reason: thermal, power, hardware_slowdown); the sum counts such GPUs",
    labelNames: [...gpuLabels, "reason"],
    registers,
    async collect() {
      this.reset();
      const { rows, atMs } = await snapshots.get();
      for (const row of rows) {
        const bits = reasonBits(row, atMs - staleMs);
        for (const [reason, mask] of Object.entries(throttleReasonBits)) {
          if ((bits & mask) !== 0) this.set({ ...labelsOf(row), reason }, 1);
        }
      }
    },
  });
}

/** One fleet read shared by the gauges of a scrape and reused for cacheMs. */
class SnapshotCache {
  private last: Snapshot | undefined;
  private pending: Promise<Snapshot> | undefined;

  constructor(
    private readonly options: GpuHealthOptions,
    private readonly onError: () => void,
  ) {}

  get(): Promise<Snapshot> {
    const nowMs = this.options.clock();
    if (this.last !== undefined && nowMs - this.last.atMs < this.options.cacheMs) return Promise.resolve(this.last);
    this.pending ??= this.read(nowMs).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async read(nowMs: number): Promise<Snapshot> {
    try {
      const rows = await fleetLatest(this.options.reader, {
        filter: {},
        metrics: [temperatureMetric, xidMetric, ...reasonMetrics],
        limit: fleetGpusMax,
      });
      this.last = { atMs: nowMs, rows };
      return this.last;
    } catch (error) {
      this.onError();
      this.options.logger.warn({ err: error }, "reading the GPU alert signals failed; serving the last ones");
      return this.last ?? { atMs: nowMs, rows: [] };
    }
  }
}

function labelsOf(row: FleetRow): Record<GpuLabel, string> {
  return {
    uuid: row.uuid,
    hostname: row.hostname,
    gpu: String(row.gpu_index),
    model: row.model,
    workload_namespace: row.namespace,
    workload_pod: row.pod,
  };
}

/** The latest value of `metric` when it is at least as new as `sinceMs`. */
function freshValue(row: FleetRow, metric: string, sinceMs: number): number | undefined {
  const index = row.metric_names.indexOf(metric);
  if (index < 0 || (row.value_ts_ms[index] ?? 0) < sinceMs) return undefined;
  return row.metric_values[index];
}

function reasonBits(row: FleetRow, sinceMs: number): number {
  let bits = 0;
  for (const metric of reasonMetrics) {
    const value = freshValue(row, metric, sinceMs);
    // The bitmask fits in 32 bits (NVML defines reasons up to 0x100).
    if (value !== undefined && value > 0) bits |= Math.trunc(value) & 0xffff_ffff;
  }
  return bits;
}
