import { metricCatalog } from "../../../src/domain/metric-catalog.ts";
import { encodeRecordTail } from "../../../src/telemetry/record-codec.ts";

/** The GPUs bench:dashboard reports for: 8 a host, a third of them used by a pod. */

export const benchMetrics = metricCatalog.slice(0, 10).map((metric) => metric.name);

export const benchUuid = (gpu: number) => `GPU-bench-${gpu.toString(16).padStart(6, "0")}-0000-0000-000000000000`;

/** The record tails of GPUs [from, to), every metric: everything but the processing time, encoded once. */
export function benchTails(from: number, to: number): { key: string; tail: Uint8Array }[] {
  const made: { key: string; tail: Uint8Array }[] = [];
  for (let gpu = from; gpu < to; gpu += 1) {
    for (const [index, metric] of benchMetrics.entries()) {
      const tail = encodeRecordTail({
        source_ts: Date.now(),
        uuid: benchUuid(gpu),
        hostname: `bench-host-${String(Math.floor(gpu / 8)).padStart(4, "0")}`,
        gpu_index: gpu % 8,
        device: `nvidia${gpu % 8}`,
        model: "NVIDIA H100 80GB HBM3",
        metric,
        value: (gpu * 7 + index * 13) % 100,
        container: "",
        pod: gpu % 3 === 0 ? `job-${gpu % 50}` : "",
        namespace: gpu % 3 === 0 ? "ml" : "",
        labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
      });
      made.push({ key: benchUuid(gpu), tail });
    }
  }
  return made;
}
