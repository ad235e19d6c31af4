import type { FleetChanges, FleetGpu, FleetMigInstance, FleetSnapshot } from "./api.ts";

/** What the filter boxes hold: each a case-insensitive substring; empty matches everything. */
export interface FleetFilter {
  hostname: string;
  model: string;
  namespace: string;
  pod: string;
}

export const noFilter: FleetFilter = { hostname: "", model: "", namespace: "", pod: "" };

export interface HostRow {
  hostname: string;
  /** By GPU index. */
  gpus: FleetGpu[];
  staleCount: number;
}

/**
 * The fleet as the page knows it: the stream's snapshot with its changes applied.
 * `version` moves when GPUs come or go (the grid is rebuilt), `changed` lists the
 * GPUs whose values moved since the page last looked (only their cells are redrawn).
 */
export class FleetModel {
  metrics: string[] = [];
  staleAfterMs = 60_000;
  truncated = false;
  generatedAt = "";
  version = 0;
  private readonly gpus = new Map<string, FleetGpu>();
  private pending = new Set<string>();

  applySnapshot(snapshot: FleetSnapshot): void {
    this.metrics = snapshot.metrics.map((metric) => metric.name);
    this.gpus.clear();
    for (const gpu of snapshot.items) this.gpus.set(gpu.uuid, gpu);
    this.update(snapshot);
    this.version += 1;
  }

  applyChanges(changes: FleetChanges): void {
    let membership = changes.removed.length > 0;
    for (const uuid of changes.removed) this.gpus.delete(uuid);
    for (const gpu of changes.items) {
      const before = this.gpus.get(gpu.uuid);
      if (before === undefined || before.hostname !== gpu.hostname || before.gpu_index !== gpu.gpu_index)
        membership = true;
      this.gpus.set(gpu.uuid, gpu);
      this.pending.add(gpu.uuid);
    }
    this.update(changes);
    if (membership) this.version += 1;
  }

  get size(): number {
    return this.gpus.size;
  }

  gpu(uuid: string): FleetGpu | undefined {
    return this.gpus.get(uuid);
  }

  /** UUIDs changed since the last call. */
  takeChanged(): string[] {
    const changed = [...this.pending];
    this.pending = new Set();
    return changed;
  }

  /** Hosts with at least one GPU that passes the filter, by hostname; GPUs by index. */
  hosts(filter: FleetFilter): HostRow[] {
    const byHost = new Map<string, HostRow>();
    for (const gpu of this.gpus.values()) {
      if (!matches(gpu, filter)) continue;
      let host = byHost.get(gpu.hostname);
      if (host === undefined) {
        host = { hostname: gpu.hostname, gpus: [], staleCount: 0 };
        byHost.set(gpu.hostname, host);
      }
      host.gpus.push(gpu);
      if (gpu.stale) host.staleCount += 1;
    }
    const hosts = [...byHost.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    for (const host of hosts) host.gpus.sort((a, b) => a.gpu_index - b.gpu_index || (a.uuid < b.uuid ? -1 : 1));
    return hosts;
  }

  /** The value of `metric` for a GPU, or null. */
  value(gpu: FleetGpu, metric: string): number | null {
    const index = this.metrics.indexOf(metric);
    return index === -1 ? null : (gpu.values[index] ?? null);
  }

  /** The value of `metric` for a MIG instance, or null. */
  instanceValue(instance: FleetMigInstance, metric: string): number | null {
    const index = this.metrics.indexOf(metric);
    return index === -1 ? null : (instance.values[index] ?? null);
  }

  /** The largest value of `metric` in the fleet (for metrics without a fixed range). */
  maxValue(metric: string): number {
    const index = this.metrics.indexOf(metric);
    let max = 0;
    if (index === -1) return max;
    for (const gpu of this.gpus.values()) max = Math.max(max, gpu.values[index] ?? 0);
    return max;
  }

  private update(header: { stale_after_ms: number; truncated: boolean; generated_at: string }): void {
    this.staleAfterMs = header.stale_after_ms;
    this.truncated = header.truncated;
    this.generatedAt = header.generated_at;
  }
}

/** A GPU matches a workload filter through its own pod or one of its MIG instances'. */
export function matches(gpu: FleetGpu, filter: FleetFilter): boolean {
  const workloads = [gpu, ...gpu.mig_instances];
  return (
    contains(gpu.hostname, filter.hostname) &&
    contains(gpu.model, filter.model) &&
    workloads.some((workload) => contains(workload.namespace, filter.namespace) && contains(workload.pod, filter.pod))
  );
}

function contains(text: string, part: string): boolean {
  return part === "" || text.toLowerCase().includes(part.trim().toLowerCase());
}
