import type { ClickHouseClient } from "@clickhouse/client";
import { findGpuByHostIndex, type GpuRow, getGpu } from "../../src/clickhouse/gpu-queries.ts";
import type { Gpu } from "./api-models.ts";
import { notFound } from "./errors.ts";
import { type GpuReference, parseGpuId } from "./gpu-id.ts";
import { formatRfc3339 } from "./time-parsing.ts";

/** The registry row of the GPU `id` names (UUID or hostname:index), or a 404. */
export async function lookupGpu(clickhouse: ClickHouseClient, id: string): Promise<GpuRow> {
  const reference = parseGpuId(id);
  const row =
    reference.kind === "uuid"
      ? await getGpu(clickhouse, reference.uuid)
      : await findGpuByHostIndex(clickhouse, { hostname: reference.hostname, gpuIndex: reference.gpuIndex });
  if (row === undefined) throw gpuNotFound(id, reference);
  return row;
}

export function gpuNotFound(id: string, reference: GpuReference): Error {
  const what =
    reference.kind === "uuid"
      ? `no GPU with UUID ${JSON.stringify(id)}`
      : `no GPU at index ${reference.gpuIndex} of host ${JSON.stringify(reference.hostname)}`;
  return notFound(`Unknown GPU: ${what} has reported telemetry; GET /api/v1/gpus lists the known ones`, [
    { field: "id", problem: what },
  ]);
}

export function gpuFromRow(row: GpuRow): Gpu {
  return {
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
  };
}
