import { gpuIndexMax } from "../../src/domain/telemetry.ts";
import { parseGpuIndex } from "../../src/telemetry/source-point.ts";
import { badRequest } from "./errors.ts";

/** How a client names one GPU in a path: its UUID, or hostname:gpu_index. */
export type GpuReference = { kind: "uuid"; uuid: string } | { kind: "placement"; hostname: string; gpuIndex: number };

export const gpuIdLengthMax = 256;
const uuidPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const hostnamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const expected = "a GPU UUID (e.g. GPU-5fd4f087-86f3-7a43-b711-4771313afc50) or hostname:index (e.g. host-01:3)";

export function parseGpuId(id: string): GpuReference {
  if (id.length === 0 || id.length > gpuIdLengthMax) {
    throw badRequest("id", `must be 1..${gpuIdLengthMax} characters: ${expected}`);
  }
  const colon = id.lastIndexOf(":");
  if (colon === -1) {
    if (!uuidPattern.test(id)) throw badRequest("id", `${JSON.stringify(id)} is not ${expected}`);
    return { kind: "uuid", uuid: id };
  }
  const hostname = id.slice(0, colon);
  const indexText = id.slice(colon + 1);
  const gpuIndex = parseGpuIndex(indexText);
  if (!hostnamePattern.test(hostname) || gpuIndex === undefined) {
    throw badRequest("id", `${JSON.stringify(id)} is not ${expected}; the index is 0..${gpuIndexMax}`);
  }
  return { kind: "placement", hostname, gpuIndex };
}
