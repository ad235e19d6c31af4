import type { FleetMigRow, FleetRow } from "../../src/clickhouse/fleet-latest.ts";
import { findMetric } from "../../src/domain/metric-catalog.ts";
import type { FleetGpu, FleetMigInstance, FleetSnapshot } from "./api-models.ts";
import { seriesName } from "./live/tail-dictionary.ts";
import { formatRfc3339 } from "./time-parsing.ts";

export interface FleetSnapshotOptions {
  /** Rows as fleetLatest returned them, at most limit + 1. */
  rows: readonly FleetRow[];
  /** The MIG instances of those GPUs, by uuid (fleetMigInstances). */
  instances: readonly FleetMigRow[];
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
  const metrics = options.metrics.length > 0 ? options.metrics : metricsOf([...rows, ...options.instances]);
  const position = new Map(metrics.map((metric, index) => [metric, index]));
  const instances = new Map<string, FleetMigInstance[]>();
  for (const instance of options.instances) {
    const list = instances.get(instance.uuid) ?? [];
    list.push(fleetInstance(instance, position, options));
    instances.set(instance.uuid, list);
  }
  return {
    generated_at: formatRfc3339(options.nowMs),
    stale_after_ms: options.staleAfterMs,
    metrics: metrics.map((name) => ({ name, unit: findMetric(name)?.unit ?? "" })),
    truncated,
    items: rows.map((row) => ({ ...fleetGpu(row, position, options), mig_instances: instances.get(row.uuid) ?? [] })),
  };
}

/** Values and timestamps aligned with the metric list; null where a metric has no value. */
function alignedValues(row: FleetRow | FleetMigRow, position: ReadonlyMap<string, number>) {
  const values: (number | null)[] = new Array(position.size).fill(null);
  const timestamps: (string | null)[] = new Array(position.size).fill(null);
  for (let index = 0; index < row.metric_names.length; index += 1) {
    const slot = position.get(row.metric_names[index] ?? "");
    if (slot === undefined) continue;
    values[slot] = row.metric_values[index] ?? null;
    timestamps[slot] = formatRfc3339(row.value_ts_ms[index] ?? 0);
  }
  return { values, timestamps };
}

function fleetGpu(
  row: FleetRow,
  position: ReadonlyMap<string, number>,
  options: FleetSnapshotOptions,
): Omit<FleetGpu, "mig_instances"> {
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
    ...alignedValues(row, position),
  };
}

function fleetInstance(
  row: FleetMigRow,
  position: ReadonlyMap<string, number>,
  options: FleetSnapshotOptions,
): FleetMigInstance {
  return {
    id: seriesName(row.uuid, row.gpu_instance),
    gpu_instance_id: row.gpu_instance,
    profile: row.profile,
    namespace: row.namespace,
    pod: row.pod,
    container: row.container,
    last_seen: formatRfc3339(row.last_seen_ms),
    stale: options.nowMs - row.last_seen_ms > options.staleAfterMs,
    ...alignedValues(row, position),
  };
}

function metricsOf(rows: readonly (FleetRow | FleetMigRow)[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const name of row.metric_names) names.add(name);
  return [...names].sort();
}
