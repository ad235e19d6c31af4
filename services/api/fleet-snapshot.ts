import type { FleetRow } from "../../src/clickhouse/fleet-latest.ts";
import { findMetric } from "../../src/domain/metric-catalog.ts";
import type { FleetGpu, FleetSnapshot } from "./api-models.ts";
import { formatRfc3339 } from "./time-parsing.ts";

export interface FleetSnapshotOptions {
  /** Rows as fleetLatest returned them, at most limit + 1. */
  rows: readonly FleetRow[];
  /** The metrics asked for, sorted; empty: every metric any row has. */
  metrics: readonly string[];
  limit: number;
  nowMs: number;
  staleAfterMs: number;
}

/** Rows of the fleet query as the API answers them: values aligned with one metric list. */
export function fleetSnapshot(options: FleetSnapshotOptions): FleetSnapshot {
  const truncated = options.rows.length > options.limit;
  const rows = truncated ? options.rows.slice(0, options.limit) : options.rows;
  const metrics = options.metrics.length > 0 ? options.metrics : metricsOf(rows);
  const position = new Map(metrics.map((metric, index) => [metric, index]));
  return {
    generated_at: formatRfc3339(options.nowMs),
    stale_after_ms: options.staleAfterMs,
    metrics: metrics.map((name) => ({ name, unit: findMetric(name)?.unit ?? "" })),
    truncated,
    items: rows.map((row) => fleetGpu(row, position, options)),
  };
}

function fleetGpu(row: FleetRow, position: ReadonlyMap<string, number>, options: FleetSnapshotOptions): FleetGpu {
  const values: (number | null)[] = new Array(position.size).fill(null);
  const timestamps: (string | null)[] = new Array(position.size).fill(null);
  for (let index = 0; index < row.metric_names.length; index += 1) {
    const slot = position.get(row.metric_names[index] ?? "");
    if (slot === undefined) continue;
    values[slot] = row.metric_values[index] ?? null;
    timestamps[slot] = formatRfc3339(row.value_ts_ms[index] ?? 0);
  }
  return {
    uuid: row.uuid,
    hostname: row.hostname,
    gpu_index: row.gpu_index,
    model: row.model,
    namespace: row.namespace,
    pod: row.pod,
    container: row.container,
    last_seen: formatRfc3339(row.last_seen_ms),
    stale: options.nowMs - row.last_seen_ms > options.staleAfterMs,
    values,
    timestamps,
  };
}

function metricsOf(rows: readonly FleetRow[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const name of row.metric_names) names.add(name);
  return [...names].sort();
}
