import { type Static, Type } from "@sinclair/typebox";
import { gpuIndexMax, textLengthMax } from "./telemetry.ts";

/** A GPU as the registry knows it: identity, placement and when it reported. */
export const Gpu = Type.Object(
  {
    uuid: Type.String({ minLength: 1, maxLength: textLengthMax, description: "GPU UUID" }),
    hostname: Type.String({ maxLength: textLengthMax }),
    gpu_index: Type.Integer({ minimum: 0, maximum: gpuIndexMax }),
    device: Type.String({ maxLength: textLengthMax }),
    model: Type.String({ maxLength: textLengthMax }),
    driver_version: Type.String({ maxLength: textLengthMax, description: "empty when the exporter did not say" }),
    namespace: Type.String({
      maxLength: textLengthMax,
      description: "Kubernetes namespace of the pod using the GPU at its latest datapoint; empty when none",
    }),
    pod: Type.String({ maxLength: textLengthMax, description: "Kubernetes pod using the GPU; empty when none" }),
    container: Type.String({ maxLength: textLengthMax, description: "container in that pod; empty when none" }),
    first_seen: Type.String({ format: "date-time", description: "first datapoint's processing time, RFC 3339" }),
    last_seen: Type.String({ format: "date-time", description: "latest datapoint's processing time, RFC 3339" }),
    metrics: Type.Array(Type.String(), { description: "DCGM fields this GPU has reported" }),
  },
  { $id: "Gpu", additionalProperties: false },
);
export type Gpu = Static<typeof Gpu>;
