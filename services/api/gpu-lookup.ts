import type { ClickHouseClient } from "@clickhouse/client";
import { findGpuByHostIndex, type GpuRow, getGpu } from "../../src/clickhouse/gpu-queries.ts";
import { getMigInstance, type MigInstanceRow } from "../../src/clickhouse/mig-queries.ts";
import type { Gpu, MigInstance } from "./api-models.ts";
import { notFound } from "./errors.ts";
import { type GpuReference, parseGpuId } from "./gpu-id.ts";
import { seriesName } from "./live/tail-dictionary.ts";
import { formatRfc3339 } from "./time-parsing.ts";

/** A GPU, or one of its MIG instances, found in the registry. */
export interface ResolvedGpu {
  /** The canonical id: the UUID, or UUID:migN. */
  id: string;
  gpu: GpuRow;
  /** Set when the id names a MIG instance. */
  instance: MigInstanceRow | undefined;
}

/** The registry row of the GPU `id` names (UUID or hostname:index), or a 404. */
export async function lookupGpu(clickhouse: ClickHouseClient, id: string): Promise<GpuRow> {
  return (await lookupSeries(clickhouse, id)).gpu;
}

/** The GPU, and the MIG instance when `id` ends in :migN, or a 404 naming what is missing. */
export async function lookupSeries(clickhouse: ClickHouseClient, id: string): Promise<ResolvedGpu> {
  const reference = parseGpuId(id);
  const gpu =
    reference.kind === "uuid"
      ? await getGpu(clickhouse, reference.uuid)
      : await findGpuByHostIndex(clickhouse, { hostname: reference.hostname, gpuIndex: reference.gpuIndex });
  if (gpu === undefined) throw gpuNotFound(id, reference);
  if (reference.gpuInstance === "") return { id: gpu.uuid, gpu, instance: undefined };
  const instance = await getMigInstance(clickhouse, { uuid: gpu.uuid, gpuInstance: reference.gpuInstance });
  if (instance === undefined) throw gpuNotFound(id, reference);
  return { id: seriesName(gpu.uuid, instance.gpu_instance), gpu, instance };
}

export function gpuNotFound(id: string, reference: GpuReference): Error {
  const gpu =
    reference.kind === "uuid"
      ? `GPU with UUID ${JSON.stringify(reference.uuid)}`
      : `GPU at index ${reference.gpuIndex} of host ${JSON.stringify(reference.hostname)}`;
  const what = reference.gpuInstance === "" ? `no ${gpu}` : `no MIG instance ${reference.gpuInstance} of a ${gpu}`;
  return notFound(`Unknown GPU: ${what} has reported telemetry; GET /api/v1/gpus lists the known ones`, [
    { field: "id", problem: `${what} (${JSON.stringify(id)})` },
  ]);
}

export function migInstanceFromRow(row: MigInstanceRow): MigInstance {
  return {
    id: seriesName(row.uuid, row.gpu_instance),
    gpu_instance_id: row.gpu_instance,
    profile: row.profile,
    namespace: row.namespace,
    pod: row.pod,
    container: row.container,
    first_seen: formatRfc3339(row.first_seen_ms),
    last_seen: formatRfc3339(row.last_seen_ms),
    metrics: row.metrics,
  };
}

/** A whole GPU with its MIG instances (rows of this GPU, in GPU_I_ID order). */
export function gpuFromRow(row: GpuRow, instances: readonly MigInstanceRow[] = []): Gpu {
  return {
    id: row.uuid,
    uuid: row.uuid,
    hostname: row.hostname,
    gpu_index: row.gpu_index,
    device: row.device,
    model: row.model,
    driver_version: row.driver_version,
    namespace: row.namespace,
    pod: row.pod,
    container: row.container,
    first_seen: formatRfc3339(row.first_seen_ms),
    last_seen: formatRfc3339(row.last_seen_ms),
    metrics: row.metrics,
    gpu_instance_id: null,
    gpu_instance_profile: null,
    mig_instances: instances.map(migInstanceFromRow),
  };
}

/** A MIG instance as a GPU of its own: its GPU's identity and placement, its own workload, times and metrics. */
export function instanceAsGpu(gpu: GpuRow, instance: MigInstanceRow): Gpu {
  return {
    ...gpuFromRow(gpu),
    id: seriesName(gpu.uuid, instance.gpu_instance),
    namespace: instance.namespace,
    pod: instance.pod,
    container: instance.container,
    first_seen: formatRfc3339(instance.first_seen_ms),
    last_seen: formatRfc3339(instance.last_seen_ms),
    metrics: instance.metrics,
    gpu_instance_id: instance.gpu_instance,
    gpu_instance_profile: instance.profile,
  };
}

/** Groups instance rows (ordered by uuid) by GPU. */
export function instancesByGpu(rows: readonly MigInstanceRow[]): Map<string, MigInstanceRow[]> {
  const byGpu = new Map<string, MigInstanceRow[]>();
  for (const row of rows) {
    const list = byGpu.get(row.uuid);
    if (list === undefined) byGpu.set(row.uuid, [row]);
    else list.push(row);
  }
  return byGpu;
}

/** A MIG instance as a GPU of its own, from its GPU and the instance's summary (as listed under it). */
export function instanceFromSummary(gpu: Gpu, instance: MigInstance): Gpu {
  return {
    ...gpu,
    id: instance.id,
    namespace: instance.namespace,
    pod: instance.pod,
    container: instance.container,
    first_seen: instance.first_seen,
    last_seen: instance.last_seen,
    metrics: instance.metrics,
    gpu_instance_id: instance.gpu_instance_id,
    gpu_instance_profile: instance.profile,
    mig_instances: [],
  };
}
