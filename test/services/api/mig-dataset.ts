import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { baseMs, point } from "./api-fixture.ts";

/**
 * GPUs as dcgm-exporter reports them on Kubernetes with MIG: GPU M has its own
 * temperature and two MIG instances (GPU_I_ID 1 and 2), each used by its own pod;
 * GPU P is used whole by a pod; GPU N by none, and reports a field outside the catalog.
 */
export const gpuM = "GPU-0d000000-0000-0000-0000-00000000000m";
export const gpuP = "GPU-0e000000-0000-0000-0000-00000000000p";
export const gpuN = "GPU-0f000000-0000-0000-0000-00000000000n";
export const fp64 = "DCGM_FI_PROF_PIPE_FP64_ACTIVE";
const driver = { DCGM_FI_DRIVER_VERSION: "550.54.15" };
export const instances = [
  { id: "1", profile: "3g.40gb", namespace: "ml", pod: "train-a", container: "main" },
  { id: "2", profile: "1g.10gb", namespace: "serve", pod: "infer-b", container: "server" },
] as const;
export const seconds = 60;

export function migDataset(): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  const host = { hostname: "host-m", model: "NVIDIA A100-SXM4-80GB" };
  for (let second = 0; second < seconds; second += 1) {
    const ts = baseMs + second * 1_000;
    points.push(
      point({
        ...host,
        ts,
        uuid: gpuM,
        gpu_index: 0,
        metric: "DCGM_FI_DEV_GPU_TEMP",
        value: 30 + second,
        labels: driver,
      }),
    );
    for (const instance of instances) {
      const labels = { ...driver, GPU_I_ID: instance.id, GPU_I_PROFILE: instance.profile };
      const workload = { namespace: instance.namespace, pod: instance.pod, container: instance.container };
      const value = Number(instance.id) * 1_000 + second;
      points.push(
        point({ ...host, ts, uuid: gpuM, gpu_index: 0, metric: "DCGM_FI_DEV_FB_USED", value, labels, ...workload }),
      );
    }
    const pod =
      second < 30
        ? { namespace: "ml", pod: "job-early", container: "main" }
        : { namespace: "ml", pod: "job-p", container: "main" };
    points.push(
      point({
        ...host,
        ts,
        uuid: gpuP,
        gpu_index: 1,
        metric: "DCGM_FI_DEV_GPU_UTIL",
        value: second,
        labels: driver,
        ...pod,
      }),
    );
    points.push(point({ ...host, ts, uuid: gpuN, gpu_index: 2, metric: fp64, value: second / 100, labels: driver }));
  }
  return points;
}
