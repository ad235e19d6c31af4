import { gpuIndexMax } from "../../src/domain/telemetry.ts";
import { parseGpuIndex } from "../../src/telemetry/source-point.ts";
import { badRequest } from "./errors.ts";
import { migSeparator } from "./live/tail-dictionary.ts";

/**
 * How a client names one GPU in a path: its UUID, or hostname:gpu_index; and one MIG
 * instance of it by appending `:mig` and the instance's GPU_I_ID (e.g.
 * GPU-5fd4f087-…:mig3 or host-01:0:mig3). `gpuInstance` is empty for the GPU itself.
 */
export type GpuReference =
  | { kind: "uuid"; uuid: string; gpuInstance: string }
  | { kind: "placement"; hostname: string; gpuIndex: number; gpuInstance: string };

export const gpuIdLengthMax = 256;
const uuidPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const hostnamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** GPU_I_ID as dcgm-exporter writes it: a small number; letters are allowed for other exporters. */
const gpuInstancePattern = /^[A-Za-z0-9_-]{1,32}$/;

const expected =
  "a GPU UUID (e.g. GPU-5fd4f087-86f3-7a43-b711-4771313afc50) or hostname:index (e.g. host-01:3), " +
  "optionally followed by :mig and a MIG instance's GPU_I_ID (e.g. host-01:3:mig1)";

export function parseGpuId(id: string): GpuReference {
  if (id.length === 0 || id.length > gpuIdLengthMax) {
    throw badRequest("id", `must be 1..${gpuIdLengthMax} characters: ${expected}`);
  }
  const mig = id.lastIndexOf(migSeparator);
  const gpuInstance = mig === -1 ? "" : id.slice(mig + migSeparator.length);
  const gpu = mig === -1 ? id : id.slice(0, mig);
  if (mig !== -1 && !gpuInstancePattern.test(gpuInstance)) {
    throw badRequest("id", `${JSON.stringify(id)} is not ${expected}; a GPU_I_ID is 1..32 letters or digits`);
  }
  const colon = gpu.lastIndexOf(":");
  if (colon === -1) {
    if (!uuidPattern.test(gpu)) throw badRequest("id", `${JSON.stringify(id)} is not ${expected}`);
    return { kind: "uuid", uuid: gpu, gpuInstance };
  }
  const hostname = gpu.slice(0, colon);
  const gpuIndex = parseGpuIndex(gpu.slice(colon + 1));
  if (!hostnamePattern.test(hostname) || gpuIndex === undefined) {
    throw badRequest("id", `${JSON.stringify(id)} is not ${expected}; the index is 0..${gpuIndexMax}`);
  }
  return { kind: "placement", hostname, gpuIndex, gpuInstance };
}
